//! Label matchers as Alertmanager writes them: `name="value"`, `!=`, `=~`, `!~`, one or several
//! in a string (`{a="1", b=~"x|y"}`, braces optional, values quoted or not), and the old
//! `match:`/`match_re:` maps. Regular expressions are anchored at both ends, as in Alertmanager.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::alert::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MatchType {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regexp,
    #[serde(rename = "!~")]
    NotRegexp,
}

impl MatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::Regexp | MatchType::NotRegexp)
    }

    pub fn is_equal(self) -> bool {
        matches!(self, MatchType::Equal | MatchType::Regexp)
    }
}

/// One matcher; the regex (anchored) is compiled once when it is made.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub kind: MatchType,
    pub value: String,
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        (&self.name, self.kind, &self.value) == (&other.name, other.kind, &other.value)
    }
}

impl Eq for Matcher {}

/// How a matcher is written on the wire (the API's `matchers` of a silence).
#[derive(Serialize, Deserialize)]
struct WireMatcher {
    name: String,
    value: String,
    #[serde(rename = "isRegex")]
    is_regex: bool,
    #[serde(rename = "isEqual", default = "default_true")]
    is_equal: bool,
}

fn default_true() -> bool {
    true
}

impl Serialize for Matcher {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireMatcher {
            name: self.name.clone(),
            value: self.value.clone(),
            is_regex: self.kind.is_regex(),
            is_equal: self.kind.is_equal(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Matcher, D::Error> {
        let wire = WireMatcher::deserialize(deserializer)?;
        let kind = match (wire.is_regex, wire.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        Matcher::new(&wire.name, kind, &wire.value).map_err(serde::de::Error::custom)
    }
}

/// Why a matcher, or a string of them, does not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatcherError {
    #[error("a matcher needs a label name")]
    NoName,
    #[error("`{value}` is not a valid regular expression: {reason}")]
    BadRegex { value: String, reason: regex::Error },
    /// `text` starts with `{` and does not end with `}`.
    #[error("`{text}` opens `{{` but does not close it")]
    UnclosedBrace { text: String },
    #[error("in `{text}`: a quoted string is not closed")]
    UnclosedQuote { text: String },
    #[error("`{text}`: expected an operator (=, !=, =~, !~) after `{name}`, e.g. `{}=\"value\"`", example_name(.name))]
    NoOperator { text: String, name: String },
    /// `rest` follows a matcher without a comma.
    #[error("`{text}`: expected `,` between matchers at `{rest}`")]
    NoComma { text: String, rest: String },
    /// A matcher of `text` that [`Matcher::new`] refused.
    #[error("in `{text}`: {reason}")]
    Invalid { text: String, reason: Box<MatcherError> },
}

/// The name an example puts before the operator: the one written, or `name`.
fn example_name(name: &str) -> &str {
    if name.is_empty() { "name" } else { name }
}

impl Matcher {
    /// A matcher; `Err` says why the regular expression does not compile.
    ///
    /// # Errors
    /// An invalid regular expression for `=~`/`!~`, or an empty label name.
    pub fn new(name: &str, kind: MatchType, value: &str) -> Result<Matcher, MatcherError> {
        if name.is_empty() {
            return Err(MatcherError::NoName);
        }
        let regex = if kind.is_regex() {
            Some(
                regex::Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|reason| MatcherError::BadRegex { value: value.to_owned(), reason })?,
            )
        } else {
            None
        };
        Ok(Matcher { name: name.to_owned(), kind, value: value.to_owned(), regex })
    }

    /// Whether `value` (empty for a missing label) matches.
    pub fn matches_value(&self, value: &str) -> bool {
        match (self.kind, &self.regex) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regexp, Some(regex)) => regex.is_match(value),
            (MatchType::NotRegexp, Some(regex)) => !regex.is_match(value),
            (MatchType::Regexp | MatchType::NotRegexp, None) => false,
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name).map_or("", String::as_str))
    }
}

/// Whether every matcher matches.
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|matcher| matcher.matches(labels))
}

impl fmt::Display for Matcher {
    /// As Alertmanager prints a matcher: `name="value"` with the value escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain_name = self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain_name {
            write!(f, "{}{}{}", self.name, self.kind.as_str(), crate::alert::go_quote(&self.value))
        } else {
            write!(
                f,
                "{}{}{}",
                crate::alert::go_quote(&self.name),
                self.kind.as_str(),
                crate::alert::go_quote(&self.value)
            )
        }
    }
}

/// Matchers in Alertmanager's order (name, value, type), as route keys use them.
pub fn sort(matchers: &mut [Matcher]) {
    matchers.sort_by(|a, b| (&a.name, &a.value, a.kind).cmp(&(&b.name, &b.value, b.kind)));
}

/// `{m1,m2}` as Alertmanager prints a list of matchers.
pub fn list_string(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Parses one string of matchers: `a="1"`, `a=~"x|y", b!=2`, `{a="1"}`.
///
/// # Errors
/// What is wrong and at which character of `text`.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, MatcherError> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(|| MatcherError::UnclosedBrace { text: text.to_owned() })?,
        None => trimmed,
    };
    let chars: Vec<char> = inner.chars().collect();
    let mut idx = 0;
    let mut matchers = Vec::new();
    let skip_space = |idx: &mut usize| {
        while *idx < chars.len() && chars[*idx].is_whitespace() {
            *idx += 1;
        }
    };
    loop {
        skip_space(&mut idx);
        if idx >= chars.len() {
            break;
        }
        let unclosed = || MatcherError::UnclosedQuote { text: text.to_owned() };
        let name = if chars[idx] == '"' {
            read_quoted(&chars, &mut idx).ok_or_else(unclosed)?
        } else {
            let start = idx;
            while idx < chars.len() && !matches!(chars[idx], '=' | '!' | '~' | ',') && !chars[idx].is_whitespace() {
                idx += 1;
            }
            chars[start..idx].iter().collect()
        };
        skip_space(&mut idx);
        let rest: String = chars[idx..].iter().take(2).collect();
        let kind = if rest.starts_with("=~") {
            MatchType::Regexp
        } else if rest.starts_with("!=") {
            MatchType::NotEqual
        } else if rest.starts_with("!~") {
            MatchType::NotRegexp
        } else if rest.starts_with('=') {
            MatchType::Equal
        } else {
            return Err(MatcherError::NoOperator { text: text.to_owned(), name });
        };
        idx += kind.as_str().len();
        skip_space(&mut idx);
        let value = if idx < chars.len() && chars[idx] == '"' {
            read_quoted(&chars, &mut idx).ok_or_else(unclosed)?
        } else {
            let start = idx;
            while idx < chars.len() && chars[idx] != ',' {
                idx += 1;
            }
            chars[start..idx].iter().collect::<String>().trim_end().to_owned()
        };
        matchers.push(
            Matcher::new(&name, kind, &value)
                .map_err(|reason| MatcherError::Invalid { text: text.to_owned(), reason: Box::new(reason) })?,
        );
        skip_space(&mut idx);
        if idx < chars.len() {
            if chars[idx] != ',' {
                return Err(MatcherError::NoComma { text: text.to_owned(), rest: chars[idx..].iter().collect() });
            }
            idx += 1;
        }
    }
    Ok(matchers)
}

/// A double-quoted string starting at `chars[*idx]`, with Go's escapes `\"`, `\\`, `\n`, `\t`;
/// `None` when it is not closed.
fn read_quoted(chars: &[char], idx: &mut usize) -> Option<String> {
    let mut out = String::new();
    *idx += 1;
    while *idx < chars.len() {
        match chars[*idx] {
            '"' => {
                *idx += 1;
                return Some(out);
            }
            '\\' if *idx + 1 < chars.len() => {
                *idx += 1;
                out.push(match chars[*idx] {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            }
            ch => out.push(ch),
        }
        *idx += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn matchers_parse_in_every_spelling() {
        let parsed = parse_matchers(r#"{service=~"foo1|foo2", severity!=warning , "odd name"="a\"b"}"#)
            .expect("the test's input is valid");
        let shown: Vec<String> = parsed.iter().map(Matcher::to_string).collect();
        assert_eq!(shown, [r#"service=~"foo1|foo2""#, r#"severity!="warning""#, r#""odd name"="a\"b""#]);
        assert_eq!(parse_matchers(r#"severity="critical""#).expect("the test's input is valid").len(), 1);
        assert!(parse_matchers("severity").is_err());
        assert!(parse_matchers(r#"a=~"(""#).is_err());
        assert!(parse_matchers(r#"a="x"#).is_err());
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let matcher = Matcher::new("service", MatchType::Regexp, "foo|bar").expect("the test's input is valid");
        assert!(matcher.matches(&labels(&[("service", "foo")])));
        assert!(!matcher.matches(&labels(&[("service", "foobar")])));
        let absent = Matcher::new("team", MatchType::Equal, "").expect("the test's input is valid");
        assert!(absent.matches(&labels(&[("service", "foo")])));
        let not = Matcher::new("team", MatchType::NotRegexp, "a.*").expect("the test's input is valid");
        assert!(not.matches(&labels(&[("team", "b")])));
        assert!(!not.matches(&labels(&[("team", "ab")])));
    }
}
