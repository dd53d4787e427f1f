//! What releases need of a `.ferry/deploy.yml`: its services and each one's `release:` rule
//! (which successful run makes a release). This reads only those keys, from YAML's events,
//! and refuses a file it cannot read with a message saying where; the full language with
//! its checks and diagnostics is `ferry-deploy`'s `compile`, which replaces this reader once
//! both are on one branch (`services` keeps its signature).

use saphyr_parser::{Event, Parser};

/// A service's `release:`: which successful run makes a release of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReleaseRule {
    /// The workflow's file name (`ci.yml`).
    pub(crate) workflow: String,
    /// The job that must have succeeded; `None`: the whole run.
    pub(crate) job: Option<String>,
    /// The artifact holding the release's files; defaults to the service's name.
    pub(crate) artifact: String,
    /// The branch the run must be on; `None`: the project's branch.
    pub(crate) branch: Option<String>,
}

/// A service of a `deploy.yml`, as releases see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    pub(crate) name: String,
    pub(crate) release: Option<ReleaseRule>,
}

/// A YAML value, as far as releases read it.
#[derive(Debug)]
enum Value {
    Scalar(String),
    Seq,
    Map(Vec<(String, Value)>),
}

/// The deepest nesting read; a deploy.yml needs five levels.
const MAX_DEPTH: usize = 64;

/// The services `text` declares, in the file's order.
///
/// # Errors
/// A message saying what is wrong and where (`line:col`), when the file is not YAML, not a
/// mapping, or its `services` or a `release:` is not of the documented shape.
pub(crate) fn services(text: &str) -> Result<Vec<ServiceSpec>, String> {
    let root = read_tree(text)?;
    let Some(root) = root else { return Ok(Vec::new()) };
    let Value::Map(top) = root else { return Err("the file must be a mapping with `services:`".to_owned()) };
    let Some((_, services)) = top.iter().find(|(key, _)| key == "services") else { return Ok(Vec::new()) };
    let Value::Map(services) = services else {
        return Err("`services` must be a mapping of service names to services".to_owned());
    };
    let mut specs = Vec::new();
    for (name, service) in services {
        let Value::Map(fields) = service else { return Err(format!("service `{name}` must be a mapping")) };
        let release = match fields.iter().find(|(key, _)| key == "release") {
            None => None,
            Some((_, Value::Map(rule))) => Some(release_rule(name, rule)?),
            Some(_) => {
                return Err(format!(
                    "`services.{name}.release` must be a mapping like {{ workflow: ci.yml, artifact: {name} }}"
                ));
            }
        };
        specs.push(ServiceSpec { name: name.clone(), release });
    }
    Ok(specs)
}

fn release_rule(service: &str, rule: &[(String, Value)]) -> Result<ReleaseRule, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match rule.iter().find(|(name, _)| name == key) {
            None => Ok(None),
            Some((_, Value::Scalar(value))) => Ok(Some(value.clone())),
            Some(_) => Err(format!("`services.{service}.release.{key}` must be a string")),
        }
    };
    let workflow = text("workflow")?
        .ok_or_else(|| format!("`services.{service}.release` needs `workflow:` (the workflow's file name, ci.yml)"))?;
    Ok(ReleaseRule {
        workflow,
        job: text("job")?,
        artifact: text("artifact")?.unwrap_or_else(|| service.to_owned()),
        branch: text("branch")?,
    })
}

/// The first document of `text` as a tree (`None` when empty); aliases are refused.
fn read_tree(text: &str) -> Result<Option<Value>, String> {
    enum Frame {
        Seq,
        Map { entries: Vec<(String, Value)>, key: Option<String> },
    }
    fn push(stack: &mut [Frame], root: &mut Option<Value>, value: Value) -> Result<(), String> {
        match stack.last_mut() {
            None => *root = Some(value),
            Some(Frame::Seq) => {}
            Some(Frame::Map { entries, key }) => match key.take() {
                Some(key) => entries.push((key, value)),
                None => match value {
                    Value::Scalar(text) => *key = Some(text),
                    _ => return Err("a mapping's keys must be plain strings".to_owned()),
                },
            },
        }
        Ok(())
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| format!("not valid YAML: {error}"))?;
        let at = || format!("{}:{}", span.start.line(), span.start.col() + 1);
        match event {
            Event::Scalar(value, ..) => push(&mut stack, &mut root, Value::Scalar(value.into_owned()))?,
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                return Err(format!("{}: nested more than {MAX_DEPTH} levels deep", at()));
            }
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::MappingStart(..) => stack.push(Frame::Map { entries: Vec::new(), key: None }),
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match stack.pop() {
                    Some(Frame::Map { entries, .. }) => Value::Map(entries),
                    Some(Frame::Seq) | None => Value::Seq,
                };
                push(&mut stack, &mut root, value)?;
            }
            Event::Alias(_) => return Err(format!("{}: aliases (`*name`) are not supported", at())),
            Event::DocumentEnd if root.is_some() => break,
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {}
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests;
