//! GitHub's filter patterns for `branches`, `tags` and `paths`, and the decision whether a
//! workflow's `on:` accepts an event.
//!
//! Patterns (GitHub's "filter pattern cheat sheet"): `*` matches any characters except `/`,
//! `**` any characters, `?` makes the preceding character optional, `+` repeats it one or more
//! times, `[abc]` / `[a-z]` match one character, `\` escapes the next character, and a leading
//! `!` turns a pattern into an exclusion. In a list, later patterns override earlier ones.

use crate::model::{RefFilters, Trigger, TriggerKind};

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Char(char),
    Class(Vec<(char, char)>),
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DoubleStar,
    /// `**/`: nothing, or any run of characters ending in `/`.
    AnyDirs,
}

#[derive(Debug, Clone, PartialEq)]
enum Repeat {
    One,
    Optional,
    OneOrMore,
}

/// A compiled filter pattern (without its `!`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    tokens: Vec<(Atom, Repeat)>,
    negated: bool,
}

/// What is wrong with a filter pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("the pattern is empty")]
    Empty,
    #[error("it ends with a lone `\\`")]
    LoneBackslash,
    #[error("a `[` is never closed by `]`")]
    Unclosed,
    #[error("`[]` matches nothing")]
    EmptyClass,
    #[error("the range `{low}-{high}` is reversed")]
    ReversedRange { low: char, high: char },
}

/// Checks a pattern's syntax; the error says what is wrong.
pub fn validate_pattern(pattern: &str) -> Result<(), PatternError> {
    Pattern::parse(pattern).map(|_| ())
}

impl Pattern {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// An unclosed or empty `[...]`, a reversed range such as `[z-a]`, a trailing `\`, or an
    /// empty pattern.
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let (negated, body) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if body.is_empty() {
            return Err(PatternError::Empty);
        }
        let chars: Vec<char> = body.chars().collect();
        let mut tokens: Vec<(Atom, Repeat)> = Vec::new();
        let mut idx = 0;
        while idx < chars.len() {
            let c = chars[idx];
            idx += 1;
            let atom = match c {
                '*' if chars.get(idx) == Some(&'*') => {
                    idx += 1;
                    if chars.get(idx) == Some(&'/') {
                        idx += 1;
                        Atom::AnyDirs
                    } else {
                        Atom::DoubleStar
                    }
                }
                '*' => Atom::Star,
                '?' | '+' => {
                    let repeatable = matches!(tokens.last(), Some((Atom::Char(_) | Atom::Class(_), Repeat::One)));
                    match tokens.last_mut() {
                        Some(last) if repeatable => {
                            last.1 = if c == '?' { Repeat::Optional } else { Repeat::OneOrMore };
                            continue;
                        }
                        _ => Atom::Char(c),
                    }
                }
                '\\' => match chars.get(idx) {
                    Some(&escaped) => {
                        idx += 1;
                        Atom::Char(escaped)
                    }
                    None => return Err(PatternError::LoneBackslash),
                },
                '[' => {
                    let close = chars[idx..].iter().position(|&c| c == ']').ok_or(PatternError::Unclosed)?;
                    let inside = &chars[idx..idx + close];
                    idx += close + 1;
                    if inside.is_empty() {
                        return Err(PatternError::EmptyClass);
                    }
                    let mut ranges = Vec::new();
                    let mut pos = 0;
                    while pos < inside.len() {
                        if pos + 2 < inside.len() && inside[pos + 1] == '-' {
                            let (low, high) = (inside[pos], inside[pos + 2]);
                            if low > high {
                                return Err(PatternError::ReversedRange { low, high });
                            }
                            ranges.push((low, high));
                            pos += 3;
                        } else {
                            ranges.push((inside[pos], inside[pos]));
                            pos += 1;
                        }
                    }
                    Atom::Class(ranges)
                }
                _ => Atom::Char(c),
            };
            tokens.push((atom, Repeat::One));
        }
        Ok(Pattern { tokens, negated })
    }

    /// Whether the pattern (ignoring its `!`) matches all of `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        // memo[token][pos]: whether tokens[token..] match chars[pos..]; None = not computed.
        let mut memo = vec![None; (self.tokens.len() + 1) * (chars.len() + 1)];
        matches_from(&self.tokens, &chars, 0, 0, &mut memo)
    }

    pub fn is_negated(&self) -> bool {
        self.negated
    }
}

fn matches_from(
    tokens: &[(Atom, Repeat)],
    text: &[char],
    token: usize,
    pos: usize,
    memo: &mut Vec<Option<bool>>,
) -> bool {
    let key = token * (text.len() + 1) + pos;
    if let Some(known) = memo[key] {
        return known;
    }
    let res = match tokens.get(token) {
        None => pos == text.len(),
        Some((atom, repeat)) => match atom {
            Atom::Star | Atom::DoubleStar => {
                let mut end = pos;
                let mut found = matches_from(tokens, text, token + 1, pos, memo);
                while !found && end < text.len() && (*atom == Atom::DoubleStar || text[end] != '/') {
                    end += 1;
                    found = matches_from(tokens, text, token + 1, end, memo);
                }
                found
            }
            Atom::AnyDirs => {
                matches_from(tokens, text, token + 1, pos, memo)
                    || (pos..text.len())
                        .filter(|&end| text[end] == '/')
                        .any(|end| matches_from(tokens, text, token + 1, end + 1, memo))
            }
            Atom::Char(_) | Atom::Class(_) => {
                let one = |at: usize| text.get(at).is_some_and(|&c| atom_matches(atom, c));
                match repeat {
                    Repeat::One => one(pos) && matches_from(tokens, text, token + 1, pos + 1, memo),
                    Repeat::Optional => {
                        matches_from(tokens, text, token + 1, pos, memo)
                            || (one(pos) && matches_from(tokens, text, token + 1, pos + 1, memo))
                    }
                    Repeat::OneOrMore => {
                        let mut end = pos;
                        let mut found = false;
                        while !found && one(end) {
                            end += 1;
                            found = matches_from(tokens, text, token + 1, end, memo);
                        }
                        found
                    }
                }
            }
        },
    };
    memo[key] = Some(res);
    res
}

fn atom_matches(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Char(expected) => *expected == c,
        Atom::Class(ranges) => ranges.iter().any(|&(low, high)| (low..=high).contains(&c)),
        Atom::Star | Atom::DoubleStar | Atom::AnyDirs => false,
    }
}

/// Whether `text` passes a pattern list: the last pattern that matches decides (a `!pattern`
/// excludes), and nothing matched means excluded. Invalid patterns match nothing.
pub fn list_matches<S: AsRef<str>>(patterns: &[S], text: &str) -> bool {
    let mut included = false;
    for pattern in patterns {
        if let Ok(pattern) = Pattern::parse(pattern.as_ref())
            && pattern.is_match(text)
        {
            included = !pattern.is_negated();
        }
    }
    included
}

/// Whether a workflow listening to `on` runs for `event` on `git_ref` (`refs/heads/main`,
/// `refs/tags/v1`; for pull-request events, the base branch) with `changed_paths` (path filters
/// apply only when the paths are given, and never to tag pushes). Activity `types` are
/// [`activity_matches`]'s to decide.
pub fn event_matches(on: &[Trigger], event: &str, git_ref: &str, changed_paths: Option<&[String]>) -> bool {
    let Some(trigger) = on.iter().find(|trigger| trigger.event.value == event) else {
        return false;
    };
    match &trigger.kind {
        TriggerKind::Ref(filters) => ref_filters_match(filters, git_ref, changed_paths),
        _ => true,
    }
}

/// The activity types GitHub starts a workflow for when its `on.<event>` names none: only
/// `opened`, `synchronize` and `reopened` for pull requests; `None` (every type) for other
/// events.
pub fn default_activity_types(event: &str) -> Option<&'static [&'static str]> {
    match event {
        "pull_request" | "pull_request_target" => Some(&["opened", "synchronize", "reopened"]),
        _ => None,
    }
}

/// Whether a workflow listening to `on` runs for activity `activity` (the webhook's `action`:
/// `opened`, `labeled`, `published`…) of `event`: the activity is one of the event's `types:`,
/// or of GitHub's defaults ([`default_activity_types`]) where none are written. An event
/// without an activity (a push, or `ferry run --event`) always passes; so does one the
/// workflow does not listen to (that is [`event_matches`]'s to decide).
pub fn activity_matches(on: &[Trigger], event: &str, activity: Option<&str>) -> bool {
    let Some(activity) = activity.filter(|activity| !activity.is_empty()) else { return true };
    let Some(trigger) = on.iter().find(|trigger| trigger.event.value == event) else { return true };
    let written: Vec<&str> = match &trigger.kind {
        TriggerKind::Ref(filters) => filters.types.iter().map(|text| text.value.as_str()).collect(),
        TriggerKind::Other(config) => match config.get("types") {
            Some(serde_json::Value::String(one)) => vec![one.as_str()],
            Some(serde_json::Value::Array(list)) => list.iter().filter_map(serde_json::Value::as_str).collect(),
            _ => Vec::new(),
        },
        TriggerKind::Dispatch(_) | TriggerKind::Schedule(_) | TriggerKind::Call(_) => Vec::new(),
    };
    if written.is_empty() {
        return default_activity_types(event).is_none_or(|defaults| defaults.contains(&activity));
    }
    written.contains(&activity)
}

fn ref_filters_match(filters: &RefFilters, git_ref: &str, changed_paths: Option<&[String]>) -> bool {
    let texts = |list: &Option<Vec<crate::model::Text>>| {
        list.as_ref().map(|list| list.iter().map(|text| text.value.clone()).collect::<Vec<String>>())
    };
    let (branches, branches_ignore) = (texts(&filters.branches), texts(&filters.branches_ignore));
    let (tags, tags_ignore) = (texts(&filters.tags), texts(&filters.tags_ignore));
    let has_branch_filter = branches.is_some() || branches_ignore.is_some();
    let has_tag_filter = tags.is_some() || tags_ignore.is_some();
    let passes = |name: &str, include: &Option<Vec<String>>, exclude: &Option<Vec<String>>| {
        include.as_ref().is_none_or(|list| list_matches(list, name))
            && exclude.as_ref().is_none_or(|list| !list_matches(list, name))
    };
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        // Path filters are not evaluated for tag pushes.
        return if has_tag_filter { passes(tag, &tags, &tags_ignore) } else { !has_branch_filter };
    }
    let branch = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
    let ref_ok = if has_branch_filter { passes(branch, &branches, &branches_ignore) } else { !has_tag_filter };
    if !ref_ok {
        return false;
    }
    let Some(changed) = changed_paths else { return true };
    let (paths, paths_ignore) = (texts(&filters.paths), texts(&filters.paths_ignore));
    if let Some(paths) = &paths
        && !changed.iter().any(|path| list_matches(paths, path))
    {
        return false;
    }
    if let Some(ignore) = &paths_ignore
        && !changed.is_empty()
        && changed.iter().all(|path| list_matches(ignore, path))
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests;
