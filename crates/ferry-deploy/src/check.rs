//! Checks across the whole file, once every part is read: names of environments used in
//! `after:` and `deploy:`, cycles of `after:`, and two services wanting one port.

use ferry_workflow::yaml::Reader as _;
use std::collections::BTreeMap;

use ferry_workflow::{Span, suggest};

use crate::parse::Cx;
use crate::spec::DeploySpec;

pub(crate) fn spec(cx: &mut Cx, spec: &DeploySpec) {
    environment_names(cx, spec);
    after_cycles(cx, spec);
    ports(cx, spec);
}

fn environment_names(cx: &mut Cx, spec: &DeploySpec) {
    let known: Vec<&str> = spec.environments.iter().map(|environment| environment.name.as_str()).collect();
    let help = |name: &str| match suggest::closest(name, &known) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None if known.is_empty() => "declare it under `environments:`".to_owned(),
        None => format!("declare it under `environments:`, or use one of: {}", known.join(", ")),
    };
    let after = std::mem::take(&mut cx.sites.after);
    for (environment, name, span) in &after {
        if !known.contains(&name.as_str()) {
            cx.error(
                "unknown-environment",
                *span,
                format!("environment `{environment}` comes after `{name}`, which is not an environment"),
                help(name),
            );
        }
    }
    cx.sites.after = after;
    let deploys = std::mem::take(&mut cx.sites.deploys);
    for (service, name, span) in &deploys {
        if !known.contains(&name.as_str()) {
            cx.error(
                "unknown-environment",
                *span,
                format!("service `{service}` deploys to `{name}`, which is not an environment"),
                help(name),
            );
        }
    }
    cx.sites.deploys = deploys;
}

/// Reports each cycle of `after:` once, at the `after:` entry that closes it.
fn after_cycles(cx: &mut Cx, spec: &DeploySpec) {
    let index: BTreeMap<&str, usize> =
        spec.environments.iter().enumerate().map(|(idx, environment)| (environment.name.as_str(), idx)).collect();
    // 0: not visited, 1: on the current path, 2: done.
    let mut marks = vec![0u8; spec.environments.len()];
    let mut reported = Vec::new();
    for start in 0..spec.environments.len() {
        let mut path: Vec<usize> = Vec::new();
        visit(spec, &index, start, &mut marks, &mut path, &mut reported);
    }
    for cycle in reported {
        let names: Vec<&str> = cycle.iter().map(|&idx| spec.environments[idx].name.as_str()).collect();
        let (Some(&last), Some(&first)) = (cycle.last(), cycle.first()) else { continue };
        let from = &spec.environments[last].name;
        let to = &spec.environments[first].name;
        let span = cx
            .sites
            .after
            .iter()
            .find(|(environment, name, _)| environment == from && name == to)
            .map(|(_, _, span)| *span)
            .unwrap_or_default();
        let mut shown = names.clone();
        shown.push(to);
        cx.error(
            "after-cycle",
            span,
            format!("`after:` goes round in a circle: {}", shown.join(" → ")),
            "a release must reach each environment after the ones it names; remove one `after:` of the circle",
        );
    }
}

/// Depth-first search over `after:` edges (an environment → the ones it comes after).
fn visit(
    spec: &DeploySpec,
    index: &BTreeMap<&str, usize>,
    node: usize,
    marks: &mut [u8],
    path: &mut Vec<usize>,
    reported: &mut Vec<Vec<usize>>,
) {
    if marks[node] == 2 {
        return;
    }
    marks[node] = 1;
    path.push(node);
    for name in &spec.environments[node].after {
        let Some(&next) = index.get(name.as_str()) else { continue };
        if marks[next] == 1 {
            let from = path.iter().position(|&idx| idx == next).unwrap_or(0);
            // The path walks "comes after", so reverse it to read in promotion order.
            let mut cycle: Vec<usize> = path[from..].to_vec();
            cycle.reverse();
            cycle.rotate_right(1);
            reported.push(cycle);
        } else {
            visit(spec, index, next, marks, path, reported);
        }
    }
    path.pop();
    marks[node] = 2;
}

/// Two services of one environment on one port, or two environments that run on the same
/// hosts and bind the same address with a service each on one port, cannot both listen.
fn ports(cx: &mut Cx, spec: &DeploySpec) {
    let mut taken: BTreeMap<(Vec<String>, &str, u16), (&str, &str)> = BTreeMap::new();
    for service in &spec.services {
        for deploy in &service.deploy {
            let Some(environment) = spec.environment(&deploy.environment) else { continue };
            let mut hosts = environment.hosts.clone();
            hosts.sort();
            let key = (hosts, environment.bind.as_str(), deploy.port);
            match taken.get(&key) {
                Some((other_service, other_environment)) => {
                    let span = port_span(cx, &service.name, &deploy.environment);
                    let other = if *other_environment == deploy.environment {
                        format!("service `{other_service}`")
                    } else {
                        format!("service `{other_service}` in `{other_environment}` (on the same hosts)")
                    };
                    cx.error(
                        "port-conflict",
                        span,
                        format!(
                            "service `{}` in `{}` wants port {}, already taken by {other}",
                            service.name, deploy.environment, deploy.port
                        ),
                        "give each service of the hosts its own port",
                    );
                }
                None => {
                    taken.insert(key, (service.name.as_str(), deploy.environment.as_str()));
                }
            }
        }
    }
}

fn port_span(cx: &Cx, service: &str, environment: &str) -> Span {
    cx.sites
        .ports
        .iter()
        .find(|(s, e, _)| s == service && e == environment)
        .map(|(_, _, span)| *span)
        .unwrap_or_default()
}
