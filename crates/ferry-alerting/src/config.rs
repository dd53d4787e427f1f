//! Alertmanager's configuration file (`alertmanager.yml`) read into a [`Config`]: `global`,
//! the `route` tree (settings inherited down the tree, matchers old and new), `receivers`
//! (webhook, Slack and email are sent; every other integration is read and reported as
//! unsupported), `inhibit_rules` and `time_intervals`. Reading never stops at the first
//! problem: every finding comes back as a [`Diagnostic`] at its line:column.

use std::collections::{BTreeMap, BTreeSet};

use ferry_workflow::yaml::{self, Entry, Node, NodeKind, Reader as _};
use ferry_workflow::{Diagnostic, Span};

use crate::duration::parse_duration;
use crate::matcher::{self, MatchType, Matcher};
use crate::time_interval::{self, TimeInterval, TimeIntervalError};

mod receiver;
#[cfg(test)]
mod tests;

pub use receiver::{Email, Integration, Receiver, Slack, Webhook};

/// The whole file, with every route's settings resolved (inherited from its parent).
#[derive(Debug, Clone)]
pub struct Config {
    pub global: Global,
    pub route: Route,
    pub receivers: Vec<Receiver>,
    pub inhibit_rules: Vec<InhibitRule>,
    /// `time_intervals` and `mute_time_intervals` by name.
    pub time_intervals: BTreeMap<String, Vec<TimeInterval>>,
}

/// The settings of `global:` Ferry uses.
#[derive(Debug, Clone)]
pub struct Global {
    /// How long an alert without `endsAt` stays firing after it was last received.
    pub resolve_timeout_ms: i64,
    pub smtp_from: Option<String>,
    pub smtp_smarthost: Option<String>,
    pub smtp_hello: String,
    pub smtp_auth_username: Option<String>,
    pub smtp_auth_password: Option<String>,
    pub smtp_auth_identity: Option<String>,
    pub smtp_require_tls: bool,
    pub slack_api_url: Option<String>,
}

impl Default for Global {
    fn default() -> Global {
        Global {
            resolve_timeout_ms: 5 * 60_000,
            smtp_from: None,
            smtp_smarthost: None,
            smtp_hello: "localhost".to_owned(),
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_auth_identity: None,
            smtp_require_tls: true,
            slack_api_url: None,
        }
    }
}

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// These labels (an alert lacking one groups by its absence).
    Labels(Vec<String>),
    /// `group_by: ['...']`: every label, so every alert is its own group.
    All,
}

/// One node of the route tree, its settings resolved.
#[derive(Debug, Clone)]
pub struct Route {
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
    /// Sorted as Alertmanager sorts them (they make the route's key).
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
    /// Alertmanager's route key, `{}/{severity="critical"}`: the first half of a group key.
    pub key: String,
    /// The key with each node's index: unique in the tree.
    pub id: String,
}

impl Route {
    /// The routes an alert with `labels` goes to, as Alertmanager matches them: depth first,
    /// the first matching child wins unless it says `continue: true`; a node none of whose
    /// children match takes the alert itself.
    pub fn matching<'r>(&'r self, labels: &crate::Labels) -> Vec<&'r Route> {
        if !matcher::matches_all(&self.matchers, labels) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for child in &self.routes {
            let matched = child.matching(labels);
            let any = !matched.is_empty();
            found.extend(matched);
            if any && !child.continue_matching {
                break;
            }
        }
        if found.is_empty() {
            found.push(self);
        }
        found
    }

    /// The group labels of an alert on this route.
    pub fn group_labels(&self, labels: &crate::Labels) -> crate::Labels {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => {
                names.iter().filter_map(|name| labels.get(name).map(|value| (name.clone(), value.clone()))).collect()
            }
        }
    }

    /// Every node, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

/// `inhibit_rules` item: a firing source alert mutes target alerts that agree with it on `equal`.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}

impl Config {
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|receiver| receiver.name == name)
    }
}

/// Reads an `alertmanager.yml`. Never fails or panics: the config it could build (`None`
/// when the text is not YAML, not a mapping or has no usable `route`) and every diagnostic,
/// sorted by position. Act only on a file without errors ([`compile_valid`]).
pub fn compile(src: &str) -> (Option<Config>, Vec<Diagnostic>) {
    let (tree, mut diagnostics) = yaml::parse(src);
    let config = tree.as_ref().and_then(|tree| {
        let mut cx = Cx::default();
        let config = read(&mut cx, tree);
        diagnostics.append(&mut cx.diagnostics);
        config
    });
    if config.is_none() && !diagnostics.iter().any(Diagnostic::is_error) {
        diagnostics.push(
            Diagnostic::error("empty-file", Span::of(src, 0, 0), "the file holds no Alertmanager configuration")
                .with_help("an alertmanager.yml needs at least `route:` with a `receiver:` and `receivers:`"),
        );
    }
    diagnostics.sort_by(|a, b| (a.span, a.code, &a.message).cmp(&(b.span, b.code, &b.message)));
    (config, diagnostics)
}

/// An `alertmanager.yml` with errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summary(.errors))]
pub struct InvalidConfig {
    /// The errors (not the warnings), sorted by position.
    pub errors: Vec<Diagnostic>,
}

fn summary(errors: &[Diagnostic]) -> String {
    let shown: Vec<String> = errors
        .iter()
        .take(3)
        .map(|error| format!("{}: {} [{}]", error.span.start, error.message, error.code))
        .collect();
    let more = match errors.len() {
        0..=3 => String::new(),
        n => format!(" (and {} more)", n - 3),
    };
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    format!("the Alertmanager configuration has {} {noun}: {}{more}", errors.len(), shown.join("; "))
}

/// [`compile`] for callers that act on the file: the config and its warnings when it has no
/// error.
///
/// # Errors
/// [`InvalidConfig`] with every error; its message names the first three at line:column.
pub fn compile_valid(src: &str) -> Result<(Config, Vec<Diagnostic>), InvalidConfig> {
    let (config, diagnostics) = compile(src);
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        diagnostics.into_iter().partition(Diagnostic::is_error);
    match config {
        Some(config) if errors.is_empty() => Ok((config, warnings)),
        _ => Err(InvalidConfig { errors }),
    }
}

const TOP_KEYS: &[&str] =
    &["global", "route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals", "templates", "tracing"];

fn read(cx: &mut Cx, tree: &Node) -> Option<Config> {
    let Some(entries) = tree.as_map() else {
        cx.error(
            "wrong-type",
            tree.span,
            format!("an Alertmanager configuration must be a mapping, found {}", tree.describe()),
            "start with `route:` and `receivers:`",
        );
        return None;
    };
    let mut global = Global::default();
    let mut raw_route = None;
    let mut receivers = Vec::new();
    let mut receiver_nodes: Vec<&Node> = Vec::new();
    let mut inhibit_rules = Vec::new();
    let mut time_intervals: BTreeMap<String, Vec<TimeInterval>> = BTreeMap::new();
    for entry in entries {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "global" => global = read_global(cx, &entry.value),
            "route" => raw_route = Some((read_raw_route(cx, &entry.value, "route"), entry.value.span)),
            "receivers" => receiver_nodes.extend(cx.seq(&entry.value, "receivers")),
            "inhibit_rules" => {
                for item in cx.seq(&entry.value, "inhibit_rules") {
                    if let Some(rule) = read_inhibit_rule(cx, item) {
                        inhibit_rules.push(rule);
                    }
                }
            }
            "time_intervals" | "mute_time_intervals" => {
                for item in cx.seq(&entry.value, key) {
                    if let Some((name, span, intervals)) = read_named_intervals(cx, item) {
                        if time_intervals.contains_key(&name) {
                            cx.error(
                                "duplicate-name",
                                span,
                                format!("time interval `{name}` is defined twice"),
                                "give each time interval its own name",
                            );
                        }
                        time_intervals.insert(name, intervals);
                    }
                }
            }
            "templates" => {
                if !cx.seq(&entry.value, "templates").is_empty() {
                    cx.warning(
                        "unsupported-setting",
                        entry.key.span,
                        "notification template files are not read; Ferry renders its default texts",
                        "use `title:`/`text:` with simple `{{ .CommonLabels.x }}` references instead",
                    );
                }
            }
            "tracing" => cx.warning(
                "unsupported-setting",
                entry.key.span,
                "`tracing` is ignored: Ferry does not export traces",
                "remove `tracing:` to silence this warning",
            ),
            _ => cx.unknown_key(entry, key, TOP_KEYS, "an Alertmanager configuration"),
        }
    }
    // Receivers take their defaults from `global`, which may come after them.
    for item in receiver_nodes {
        if let Some(receiver) = receiver::read(cx, item, &global) {
            receivers.push(receiver);
        }
    }
    let Some((Some(raw_route), route_span)) = raw_route else {
        cx.error(
            "missing-key",
            tree.span,
            "the configuration has no `route:`",
            "add `route:` with at least `receiver:` naming one of `receivers:`",
        );
        return None;
    };
    check_root(cx, &raw_route, route_span);
    let route = resolve_route(&raw_route, None, "{}".to_owned(), "{}".to_owned());
    check_references(cx, &raw_route, &receivers, &time_intervals);
    let mut seen = BTreeSet::new();
    for receiver in &receivers {
        if !seen.insert(receiver.name.clone()) {
            cx.error(
                "duplicate-name",
                receiver.span,
                format!("receiver `{}` is defined twice", receiver.name),
                "give each receiver its own name",
            );
        }
    }
    Some(Config { global, route, receivers, inhibit_rules, time_intervals })
}

/// A route as written, before inheritance.
struct RawRoute {
    receiver: Option<(String, Span)>,
    group_by: Option<GroupBy>,
    group_wait_ms: Option<i64>,
    group_interval_ms: Option<i64>,
    repeat_interval_ms: Option<i64>,
    matchers: Vec<Matcher>,
    /// Where `matchers:`/`match:`/`match_re:` is written, if anywhere.
    matchers_span: Option<Span>,
    continue_matching: Option<Span>,
    mute_time_intervals: Vec<(String, Span)>,
    active_time_intervals: Vec<(String, Span)>,
    routes: Vec<RawRoute>,
}

const ROUTE_KEYS: &[&str] = &[
    "receiver",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "matchers",
    "match",
    "match_re",
    "continue",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
    "labels",
];

/// Alertmanager's defaults for the root route.
const DEFAULT_GROUP_WAIT_MS: i64 = 30_000;
const DEFAULT_GROUP_INTERVAL_MS: i64 = 5 * 60_000;
const DEFAULT_REPEAT_INTERVAL_MS: i64 = 4 * 3_600_000;

fn read_raw_route(cx: &mut Cx, node: &Node, what: &str) -> Option<RawRoute> {
    if node.as_map().is_none() {
        cx.wrong_type(node, what, "a mapping");
        return None;
    }
    let mut route = RawRoute {
        receiver: None,
        group_by: None,
        group_wait_ms: None,
        group_interval_ms: None,
        repeat_interval_ms: None,
        matchers: Vec::new(),
        matchers_span: None,
        continue_matching: None,
        mute_time_intervals: Vec::new(),
        active_time_intervals: Vec::new(),
        routes: Vec::new(),
    };
    for entry in cx.map(node, what) {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "receiver" => route.receiver = cx.text(value, "receiver").map(|name| (name, value.span)),
            "group_by" => route.group_by = read_group_by(cx, value),
            "group_wait" => route.group_wait_ms = cx.duration(value, "group_wait"),
            "group_interval" => {
                route.group_interval_ms = cx.duration(value, "group_interval");
                if route.group_interval_ms == Some(0) {
                    cx.error("bad-duration", value.span, "`group_interval` cannot be zero", "write e.g. `5m`");
                }
            }
            "repeat_interval" => {
                route.repeat_interval_ms = cx.duration(value, "repeat_interval");
                if route.repeat_interval_ms == Some(0) {
                    cx.error("bad-duration", value.span, "`repeat_interval` cannot be zero", "write e.g. `4h`");
                }
            }
            "matchers" => {
                route.matchers.extend(read_matchers(cx, value, "matchers"));
                route.matchers_span.get_or_insert(entry.key.span);
            }
            "match" | "match_re" => {
                let kind = if key == "match" { MatchType::Equal } else { MatchType::Regexp };
                route.matchers.extend(read_match_map(cx, value, key, kind));
                route.matchers_span.get_or_insert(entry.key.span);
            }
            "continue" => {
                if cx.bool(value, "continue") == Some(true) {
                    route.continue_matching = Some(entry.key.span);
                }
            }
            "mute_time_intervals" => route.mute_time_intervals = cx.spanned_texts(value, key),
            "active_time_intervals" => route.active_time_intervals = cx.spanned_texts(value, key),
            "routes" => {
                for item in cx.seq(value, "routes") {
                    if let Some(child) = read_raw_route(cx, item, "routes item") {
                        route.routes.push(child);
                    }
                }
            }
            "labels" => cx.warning(
                "unsupported-setting",
                entry.key.span,
                "route `labels` are ignored: Ferry's notifications do not carry route labels yet",
                "remove `labels:` to silence this warning",
            ),
            _ => cx.unknown_key(entry, key, ROUTE_KEYS, "a route"),
        }
    }
    Some(route)
}

fn read_group_by(cx: &mut Cx, node: &Node) -> Option<GroupBy> {
    let names = cx.spanned_texts(node, "group_by");
    if names.iter().any(|(name, _)| name == "...") {
        if names.len() > 1 {
            cx.error(
                "bad-group-by",
                node.span,
                "`...` in `group_by` must be the only label name",
                "write `group_by: ['...']` to group by every label, or list the label names",
            );
        }
        return Some(GroupBy::All);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, span) in names {
        if !valid_label_name(&name) {
            cx.error(
                "bad-label-name",
                span,
                format!("`{name}` is not a valid label name"),
                "label names are letters, digits and `_`, not starting with a digit",
            );
        } else if seen.insert(name.clone()) {
            out.push(name);
        } else {
            cx.error("duplicate-name", span, format!("`{name}` is listed twice in `group_by`"), "list it once");
        }
    }
    Some(GroupBy::Labels(out))
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A `matchers:` list (or one string): each item one or more matchers.
fn read_matchers(cx: &mut Cx, node: &Node, what: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (text, span) in cx.spanned_texts(node, what) {
        match matcher::parse_matchers(&text) {
            Ok(matchers) => out.extend(matchers),
            Err(reason) => cx.error(
                "bad-matcher",
                span,
                format!("bad matcher: {reason}"),
                "write matchers as `name=\"value\"`, `name!=\"value\"`, `name=~\"regex\"` or `name!~\"regex\"`",
            ),
        }
    }
    out
}

/// `match:`/`match_re:` (and `source_match`, `target_match…`): a map of label name to value.
fn read_match_map(cx: &mut Cx, node: &Node, what: &str, kind: MatchType) -> Vec<Matcher> {
    let mut out = Vec::new();
    for entry in cx.map(node, what) {
        let Some(name) = cx.key(entry) else { continue };
        let Some(value) = cx.text(&entry.value, what) else { continue };
        if !valid_label_name(name) {
            cx.error(
                "bad-label-name",
                entry.key.span,
                format!("`{name}` is not a valid label name"),
                "label names are letters, digits and `_`, not starting with a digit",
            );
            continue;
        }
        match Matcher::new(name, kind, &value) {
            Ok(matcher) => out.push(matcher),
            Err(reason) => {
                cx.error("bad-matcher", entry.value.span, reason.to_string(), "fix the regular expression (RE2 syntax)")
            }
        }
    }
    out
}

fn check_root(cx: &mut Cx, root: &RawRoute, span: Span) {
    if root.receiver.is_none() {
        cx.error(
            "missing-key",
            span,
            "the root route has no `receiver`",
            "add `receiver:` naming the receiver alerts go to when no child route matches",
        );
    }
    if let Some(matchers_span) = root.matchers_span {
        cx.error(
            "root-route-matchers",
            matchers_span,
            "the root route must not have matchers: every alert enters it",
            "move the matchers to a child route under `routes:`",
        );
    }
    if let Some(continue_span) = root.continue_matching {
        cx.error(
            "root-route-continue",
            continue_span,
            "the root route cannot have `continue`",
            "remove `continue:` from the root route",
        );
    }
    if !root.mute_time_intervals.is_empty() || !root.active_time_intervals.is_empty() {
        cx.error(
            "root-route-intervals",
            span,
            "the root route cannot have mute or active time intervals",
            "move them to a child route",
        );
    }
}

fn check_references(
    cx: &mut Cx,
    route: &RawRoute,
    receivers: &[Receiver],
    intervals: &BTreeMap<String, Vec<TimeInterval>>,
) {
    if let Some((name, span)) = &route.receiver
        && !receivers.iter().any(|receiver| &receiver.name == name)
    {
        let known: Vec<&str> = receivers.iter().map(|receiver| receiver.name.as_str()).collect();
        let help = match ferry_workflow::suggest::closest(name, &known) {
            Some(candidate) => format!("did you mean `{candidate}`?"),
            None => "add it under `receivers:` or name one that is there".to_owned(),
        };
        cx.error("unknown-receiver", *span, format!("receiver `{name}` is not defined in `receivers:`"), help);
    }
    for (name, span) in route.mute_time_intervals.iter().chain(&route.active_time_intervals) {
        if !intervals.contains_key(name) {
            cx.error(
                "unknown-time-interval",
                *span,
                format!("time interval `{name}` is not defined"),
                "define it under `time_intervals:`",
            );
        }
    }
    for child in &route.routes {
        check_references(cx, child, receivers, intervals);
    }
}

/// The route with its parent's settings filled in, and its key and id.
fn resolve_route(raw: &RawRoute, parent: Option<&Route>, key: String, id: String) -> Route {
    let mut matchers = raw.matchers.clone();
    matcher::sort(&mut matchers);
    let mut route = Route {
        receiver: raw
            .receiver
            .as_ref()
            .map(|(name, _)| name.clone())
            .or_else(|| parent.map(|parent| parent.receiver.clone()))
            .unwrap_or_default(),
        group_by: raw
            .group_by
            .clone()
            .or_else(|| parent.map(|parent| parent.group_by.clone()))
            .unwrap_or(GroupBy::Labels(Vec::new())),
        group_wait_ms: raw.group_wait_ms.or(parent.map(|p| p.group_wait_ms)).unwrap_or(DEFAULT_GROUP_WAIT_MS),
        group_interval_ms: raw
            .group_interval_ms
            .or(parent.map(|p| p.group_interval_ms))
            .unwrap_or(DEFAULT_GROUP_INTERVAL_MS),
        repeat_interval_ms: raw
            .repeat_interval_ms
            .or(parent.map(|p| p.repeat_interval_ms))
            .unwrap_or(DEFAULT_REPEAT_INTERVAL_MS),
        matchers,
        continue_matching: raw.continue_matching.is_some(),
        mute_time_intervals: raw.mute_time_intervals.iter().map(|(name, _)| name.clone()).collect(),
        active_time_intervals: raw.active_time_intervals.iter().map(|(name, _)| name.clone()).collect(),
        routes: Vec::new(),
        key,
        id,
    };
    let children: Vec<Route> = raw
        .routes
        .iter()
        .enumerate()
        .map(|(idx, child)| {
            let mut child_matchers = child.matchers.clone();
            matcher::sort(&mut child_matchers);
            let own = matcher::list_string(&child_matchers);
            resolve_route(child, Some(&route), format!("{}/{own}", route.key), format!("{}/{own}/{idx}", route.id))
        })
        .collect();
    route.routes = children;
    route
}

const INHIBIT_KEYS: &[&str] = &[
    "source_matchers",
    "target_matchers",
    "source_match",
    "source_match_re",
    "target_match",
    "target_match_re",
    "equal",
];

fn read_inhibit_rule(cx: &mut Cx, node: &Node) -> Option<InhibitRule> {
    if node.as_map().is_none() {
        cx.wrong_type(node, "inhibit_rules item", "a mapping");
        return None;
    }
    let mut rule = InhibitRule { source_matchers: Vec::new(), target_matchers: Vec::new(), equal: Vec::new() };
    for entry in cx.map(node, "inhibit_rules item") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "source_matchers" => rule.source_matchers.extend(read_matchers(cx, value, key)),
            "target_matchers" => rule.target_matchers.extend(read_matchers(cx, value, key)),
            "source_match" => rule.source_matchers.extend(read_match_map(cx, value, key, MatchType::Equal)),
            "source_match_re" => rule.source_matchers.extend(read_match_map(cx, value, key, MatchType::Regexp)),
            "target_match" => rule.target_matchers.extend(read_match_map(cx, value, key, MatchType::Equal)),
            "target_match_re" => rule.target_matchers.extend(read_match_map(cx, value, key, MatchType::Regexp)),
            "equal" => rule.equal = cx.texts(value, key),
            _ => cx.unknown_key(entry, key, INHIBIT_KEYS, "an inhibit rule"),
        }
    }
    Some(rule)
}

fn read_named_intervals(cx: &mut Cx, node: &Node) -> Option<(String, Span, Vec<TimeInterval>)> {
    if node.as_map().is_none() {
        cx.wrong_type(node, "time_intervals item", "a mapping");
        return None;
    }
    let mut name = None;
    let mut intervals = Vec::new();
    for entry in cx.map(node, "time_intervals item") {
        let Some(key) = cx.key(entry) else { continue };
        match key {
            "name" => name = cx.text(&entry.value, "name").map(|text| (text, entry.value.span)),
            "time_intervals" => {
                for item in cx.seq(&entry.value, "time_intervals") {
                    if let Some(interval) = read_interval(cx, item) {
                        intervals.push(interval);
                    }
                }
            }
            _ => cx.unknown_key(entry, key, &["name", "time_intervals"], "a named time interval"),
        }
    }
    let Some((name, span)) = name else {
        cx.error("missing-key", node.span, "a time interval needs a `name`", "add `name:`");
        return None;
    };
    Some((name, span, intervals))
}

const INTERVAL_KEYS: &[&str] = &["times", "weekdays", "days_of_month", "months", "years", "location"];

fn read_interval(cx: &mut Cx, node: &Node) -> Option<TimeInterval> {
    if node.as_map().is_none() {
        cx.wrong_type(node, "time_intervals item", "a mapping");
        return None;
    }
    let mut interval = TimeInterval::default();
    for entry in cx.map(node, "time interval") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "times" => {
                for item in cx.seq(value, "times") {
                    if let Some(range) = read_times(cx, item) {
                        interval.times.push(range);
                    }
                }
            }
            "weekdays" => interval.weekdays = cx.ranges(value, key, time_interval::parse_weekdays),
            "days_of_month" => interval.days_of_month = cx.ranges(value, key, time_interval::parse_days_of_month),
            "months" => interval.months = cx.ranges(value, key, time_interval::parse_months),
            "years" => interval.years = cx.ranges(value, key, time_interval::parse_years),
            "location" => {
                if let Some(location) = cx.text(value, "location")
                    && !matches!(location.as_str(), "UTC" | "Etc/UTC" | "")
                {
                    cx.error(
                        "unsupported-location",
                        value.span,
                        format!("location `{location}` is not supported: Ferry's time intervals are in UTC"),
                        "write the times in UTC and `location: UTC` (or leave `location` out)",
                    );
                }
            }
            _ => cx.unknown_key(entry, key, INTERVAL_KEYS, "a time interval"),
        }
    }
    Some(interval)
}

fn read_times(cx: &mut Cx, node: &Node) -> Option<(u32, u32)> {
    let (mut start, mut end) = (None, None);
    for entry in cx.map(node, "times item") {
        let Some(key) = cx.key(entry) else { continue };
        let slot = match key {
            "start_time" => &mut start,
            "end_time" => &mut end,
            _ => {
                cx.unknown_key(entry, key, &["start_time", "end_time"], "a time range");
                continue;
            }
        };
        let Some(text) = cx.text(&entry.value, key) else { continue };
        match time_interval::parse_clock(&text) {
            Ok(minutes) => *slot = Some(minutes),
            Err(reason) => cx.error("bad-time", entry.value.span, reason.to_string(), "write e.g. `09:00`"),
        }
    }
    match (start, end) {
        (Some(start), Some(end)) if start < end => Some((start, end)),
        (Some(_), Some(_)) => {
            cx.error(
                "bad-time",
                node.span,
                "`start_time` must come before `end_time`",
                "ranges cannot wrap past midnight; split them in two",
            );
            None
        }
        _ => {
            cx.error(
                "missing-key",
                node.span,
                "a time range needs `start_time` and `end_time`",
                "write e.g. `{start_time: '09:00', end_time: '17:00'}`",
            );
            None
        }
    }
}

/// What reading needs: the diagnostics found so far.
#[derive(Default)]
pub(crate) struct Cx {
    pub diagnostics: Vec<Diagnostic>,
}

impl ferry_workflow::yaml::Reader for Cx {
    fn diagnostics(&mut self) -> &mut Vec<Diagnostic> {
        &mut self.diagnostics
    }
}

impl Cx {
    pub fn warning(&mut self, code: &'static str, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(code, span, message).with_help(help));
    }

    /// A sequence's items; `null` counts as empty.
    pub fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Seq(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.wrong_type(node, what, "a list");
                &[]
            }
        }
    }

    /// A scalar as text (booleans and numbers as written); `null` gives `None` silently.
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar(scalar) if !node.is_null() => Some(scalar.value.clone()),
            NodeKind::Scalar(_) => None,
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A string or a list of strings.
    pub fn texts(&mut self, node: &Node, what: &str) -> Vec<String> {
        self.spanned_texts(node, what).into_iter().map(|(text, _)| text).collect()
    }

    /// A string or a list of strings, each with where it is written.
    pub fn spanned_texts(&mut self, node: &Node, what: &str) -> Vec<(String, Span)> {
        match &node.kind {
            NodeKind::Seq(items) => {
                items.iter().filter_map(|item| self.text(item, what).map(|text| (text, item.span))).collect()
            }
            NodeKind::Map(_) => {
                self.wrong_type(node, what, "a string or a list of strings");
                Vec::new()
            }
            NodeKind::Scalar(_) => self.text(node, what).map(|text| (text, node.span)).into_iter().collect(),
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        let flag = node.as_bool();
        if flag.is_none() {
            self.wrong_type(node, what, "`true` or `false`");
        }
        flag
    }

    /// A whole number ≥ 0.
    pub fn count(&mut self, node: &Node, what: &str) -> Option<u64> {
        let value = node.as_f64().filter(|value| value.fract() == 0.0 && *value >= 0.0 && *value < 1e15);
        if value.is_none() {
            self.wrong_type(node, what, "a whole number");
        }
        value.map(|value| value as u64)
    }

    pub fn duration(&mut self, node: &Node, what: &str) -> Option<i64> {
        let Some(text) = node.as_str().filter(|_| !node.is_null()) else {
            self.wrong_type(node, what, "a duration such as `30s`");
            return None;
        };
        match parse_duration(text) {
            Ok(ms) => Some(ms),
            Err(reason) => {
                self.error("bad-duration", node.span, reason.to_string(), "write e.g. `30s`, `5m` or `4h`");
                None
            }
        }
    }

    fn ranges<T>(&mut self, node: &Node, what: &str, parse: fn(&str) -> Result<T, TimeIntervalError>) -> Vec<T> {
        let mut out = Vec::new();
        for (text, span) in self.spanned_texts(node, what) {
            match parse(&text) {
                Ok(range) => out.push(range),
                Err(reason) => {
                    self.error("bad-time-interval", span, reason.to_string(), format!("fix this `{what}` item"))
                }
            }
        }
        out
    }

    /// A key that Ferry reads but does not act on.
    pub fn unsupported(&mut self, entry: &Entry, key: &str, context: &str) {
        self.warning(
            "unsupported-setting",
            entry.key.span,
            format!("`{key}` in {context} is not supported and is ignored"),
            format!("remove `{key}` to silence this warning"),
        );
    }
}

fn read_global(cx: &mut Cx, node: &Node) -> Global {
    let mut global = Global::default();
    for entry in cx.map(node, "global") {
        let Some(key) = cx.key(entry) else { continue };
        let value = &entry.value;
        match key {
            "resolve_timeout" => {
                if let Some(ms) = cx.duration(value, key) {
                    global.resolve_timeout_ms = ms;
                }
            }
            "smtp_from" => global.smtp_from = cx.text(value, key),
            "smtp_smarthost" => global.smtp_smarthost = cx.text(value, key),
            "smtp_hello" => global.smtp_hello = cx.text(value, key).unwrap_or_else(|| "localhost".to_owned()),
            "smtp_auth_username" => global.smtp_auth_username = cx.text(value, key),
            "smtp_auth_password" => global.smtp_auth_password = cx.text(value, key),
            "smtp_auth_identity" => global.smtp_auth_identity = cx.text(value, key),
            "smtp_require_tls" => global.smtp_require_tls = cx.bool(value, key).unwrap_or(true),
            "slack_api_url" => global.slack_api_url = cx.text(value, key),
            _ if GLOBAL_UNSUPPORTED.contains(&key) => cx.unsupported(entry, key, "`global`"),
            _ => {
                let mut known: Vec<&str> = GLOBAL_KEYS.to_vec();
                known.extend(GLOBAL_UNSUPPORTED);
                cx.unknown_key(entry, key, &known, "`global`");
            }
        }
    }
    global
}

const GLOBAL_KEYS: &[&str] = &[
    "resolve_timeout",
    "smtp_from",
    "smtp_smarthost",
    "smtp_hello",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_identity",
    "smtp_require_tls",
    "slack_api_url",
];

/// Alertmanager's other `global` settings: read, reported, not used.
const GLOBAL_UNSUPPORTED: &[&str] = &[
    "http_config",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_secret_file",
    "smtp_tls_config",
    "smtp_force_implicit_tls",
    "slack_api_url_file",
    "slack_app_token",
    "slack_app_token_file",
    "slack_app_url",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "telegram_api_url",
    "telegram_bot_token",
    "telegram_bot_token_file",
    "webex_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
    "jira_api_url",
    "mattermost_webhook_url",
    "mattermost_webhook_url_file",
    "incidentio_url",
];
