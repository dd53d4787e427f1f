//! `slos:` of a service, in Sloth's dialect: each SLO's `name`, `objective` (percent),
//! `window` and `sli` (a built-in one of the proxy's metrics, or `errors:`/`total:` queries
//! holding `{{.window}}`), checked one by one: objectives strictly between 0 and 100, known
//! built-ins, latency bounds that are buckets of the proxy's histogram, queries PromQL reads.

use ferry_proto::agent::LATENCY_BUCKETS_MS;
use ferry_workflow::suggest;
use ferry_workflow::yaml::Reader as _;
use ferry_workflow::yaml::{Node, NodeKind};

use super::Cx;
use super::service::fields;
use crate::duration::{format_duration, parse_duration};
use crate::slo::{BUILT_IN_SLIS, DEFAULT_WINDOW_MS, Sli, Slo, WINDOW_PLACEHOLDER};

const KEYS: &[&str] = &["name", "objective", "window", "sli", "description"];
const RATIO_KEYS: &[&str] = &["errors", "total"];
/// The shortest window: the page alert's long window.
const MIN_WINDOW_MS: u64 = 3_600_000;
/// The longest window: a quarter.
const MAX_WINDOW_MS: u64 = 90 * 86_400_000;

pub(super) fn read_all(cx: &mut Cx, node: &Node, service: &str) -> Vec<Slo> {
    let items = match &node.kind {
        NodeKind::Seq(items) => items.as_slice(),
        _ if node.is_null() => &[],
        _ => {
            cx.wrong_type(node, "slos", "a list of SLOs, each `- name: …`");
            &[]
        }
    };
    let mut slos: Vec<Slo> = Vec::new();
    for item in items {
        let Some(slo) = read(cx, item, service) else { continue };
        if slos.iter().any(|seen| seen.name == slo.name) {
            cx.error(
                "duplicate-slo",
                item.span,
                format!("service `{service}` has two SLOs named `{}`", slo.name),
                "give each SLO of a service its own name",
            );
            continue;
        }
        slos.push(slo);
    }
    slos
}

fn read(cx: &mut Cx, node: &Node, service: &str) -> Option<Slo> {
    let context = format!("an SLO of `{service}`");
    let (mut name, mut objective, mut window_ms, mut sli) = (None, None, DEFAULT_WINDOW_MS, None);
    for (key, entry) in fields(cx, node, &context) {
        let value = &entry.value;
        match key {
            "name" => {
                if let Some(text) = cx.text(value, "name") {
                    cx.name(entry, &text, "SLO");
                    name = Some(text);
                }
            }
            "objective" => objective = read_objective(cx, value),
            "window" => window_ms = read_window(cx, value).unwrap_or(window_ms),
            "sli" => sli = read_sli(cx, value, service),
            "description" => {
                cx.text(value, "description");
            }
            _ => cx.unknown_key(entry, key, KEYS, &context),
        }
    }
    let missing = [
        (name.is_none(), "name", "name it, e.g. `name: availability` (it labels the rules and alerts)"),
        (objective.is_none(), "objective", "give the percent of good events promised, e.g. `objective: 99.9`"),
        (
            sli.is_none(),
            "sli",
            "say what fails: `sli: proxy-availability`, `sli: { proxy-latency: 250ms }` or \
             `sli: { errors: QUERY, total: QUERY }`",
        ),
    ];
    for (absent, key, help) in missing {
        // A value that was written but wrong was reported where it is.
        let written = node.as_map().is_some_and(|entries| entries.iter().any(|e| e.key.as_str() == Some(key)));
        if absent && !written {
            cx.error("missing-key", node.span, format!("{context} has no `{key}:`"), help);
        }
    }
    Some(Slo { name: name?, objective: objective?, window_ms, sli: sli? })
}

fn read_objective(cx: &mut Cx, node: &Node) -> Option<f64> {
    match node.as_f64() {
        Some(value) if value > 0.0 && value < 100.0 => Some(value),
        _ => {
            let found = node
                .as_str()
                .filter(|_| !node.is_null())
                .map_or_else(|| node.describe().to_owned(), |text| format!("`{text}`"));
            cx.error(
                "bad-objective",
                node.span,
                format!("`objective` is a percent strictly between 0 and 100, found {found}"),
                "write the percent of good events promised, e.g. `99.9` (not `0.999`, and not `100`: no budget)",
            );
            None
        }
    }
}

fn read_window(cx: &mut Cx, node: &Node) -> Option<u64> {
    let Some(text) = node.as_str().filter(|_| !node.is_null()) else {
        cx.wrong_type(node, "window", "a duration such as `30d`");
        return None;
    };
    match window_ms(text) {
        Ok(ms) if (MIN_WINDOW_MS..=MAX_WINDOW_MS).contains(&ms) => Some(ms),
        Ok(_) => {
            cx.error(
                "bad-window",
                node.span,
                format!(
                    "`window` must be from {} to {}, found `{text}`",
                    format_duration(MIN_WINDOW_MS),
                    promql_days(MAX_WINDOW_MS)
                ),
                "write the period the objective holds over, e.g. `30d` (the usual) or `7d`",
            );
            None
        }
        Err(reason) => {
            cx.error(
                "bad-window",
                node.span,
                format!("`window`: {reason}"),
                "write a number and a unit: `30d`, `7d`, `12h`",
            );
            None
        }
    }
}

/// A window: whole days (`30d`, as SLOs are usually written) or a duration of deploy.yml.
fn window_ms(text: &str) -> Result<u64, crate::duration::DurationError> {
    let days =
        text.trim().strip_suffix('d').filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    match days.and_then(|digits| digits.parse::<u64>().ok()) {
        Some(days) => {
            days.checked_mul(86_400_000).ok_or(crate::duration::DurationError::TooLong { text: text.to_owned() })
        }
        None => parse_duration(text),
    }
}

fn promql_days(ms: u64) -> String {
    format!("{}d", ms / 86_400_000)
}

fn read_sli(cx: &mut Cx, node: &Node, service: &str) -> Option<Sli> {
    if let NodeKind::Scalar(_) = node.kind {
        let Some(name) = cx.text(node, "sli") else {
            cx.error(
                "missing-key",
                node.span,
                "`sli:` is empty",
                "say what fails: `sli: proxy-availability`, `sli: { proxy-latency: 250ms }` or \
                 `sli: { errors: QUERY, total: QUERY }`",
            );
            return None;
        };
        return match name.as_str() {
            "proxy-availability" => Some(Sli::ProxyAvailability),
            "proxy-latency" => {
                cx.error(
                    "bad-sli",
                    node.span,
                    "`proxy-latency` needs the latency a request must be answered within",
                    "write `sli: { proxy-latency: 250ms }`",
                );
                None
            }
            _ => {
                unknown_sli(cx, node, &name);
                None
            }
        };
    }
    let context = format!("the SLI of an SLO of `{service}`");
    let entries = fields(cx, node, &context);
    if let [(key, entry)] = entries.as_slice()
        && !RATIO_KEYS.contains(key)
    {
        return match *key {
            "proxy-latency" => read_latency(cx, &entry.value),
            "proxy-availability" => {
                cx.error(
                    "bad-sli",
                    entry.key.span,
                    "`proxy-availability` takes no value",
                    "write `sli: proxy-availability`",
                );
                None
            }
            other => {
                unknown_sli(cx, &entry.key, other);
                None
            }
        };
    }
    let (mut errors, mut total) = (None, None);
    for (key, entry) in &entries {
        match *key {
            "errors" => errors = read_query(cx, &entry.value, "errors"),
            "total" => total = read_query(cx, &entry.value, "total"),
            _ => cx.unknown_key(entry, key, RATIO_KEYS, &context),
        }
    }
    for (found, key) in [
        (entries.iter().any(|(key, _)| *key == "errors"), "errors"),
        (entries.iter().any(|(key, _)| *key == "total"), "total"),
    ] {
        if !found {
            cx.error(
                "missing-key",
                node.span,
                format!("{context} has no `{key}:` query"),
                "give both `errors:` (the rate of failed events) and `total:` (the rate of all events), each with \
                 `[{{.window}}]` as its range",
            );
        }
    }
    Some(Sli::Ratio { errors: errors?, total: total? })
}

fn unknown_sli(cx: &mut Cx, node: &Node, name: &str) {
    let help = match suggest::closest(name, BUILT_IN_SLIS) {
        Some(candidate) => format!("did you mean `{candidate}`?"),
        None => "use `proxy-availability`, `{ proxy-latency: 250ms }` or `{ errors: QUERY, total: QUERY }`".to_owned(),
    };
    cx.error("unknown-sli", node.span, format!("unknown built-in SLI `{name}`"), help);
}

/// `proxy-latency: 250ms`: the bound must be one of the histogram's, or the ratio could not
/// be counted from it.
fn read_latency(cx: &mut Cx, node: &Node) -> Option<Sli> {
    let ms = cx.duration(node, "proxy-latency")? as f64;
    if LATENCY_BUCKETS_MS.contains(&ms) {
        return Some(Sli::ProxyLatency { threshold_ms: ms });
    }
    let below = LATENCY_BUCKETS_MS.iter().rev().find(|bound| **bound < ms);
    let above = LATENCY_BUCKETS_MS.iter().find(|bound| **bound > ms);
    let nearest: Vec<String> =
        below.into_iter().chain(above).map(|bound| format!("`{}`", bucket_words(*bound))).collect();
    let all: Vec<String> = LATENCY_BUCKETS_MS.iter().map(|bound| bucket_words(*bound)).collect();
    cx.error(
        "bad-sli",
        node.span,
        format!(
            "`proxy-latency` must be a bucket bound of the proxy's latency histogram, found `{}`",
            bucket_words(ms)
        ),
        format!("use {} (the bounds are {})", nearest.join(" or "), all.join(", ")),
    );
    None
}

/// A bucket bound as deploy.yml writes it: `250ms`, `1s`, `0.5ms`.
fn bucket_words(ms: f64) -> String {
    if ms.fract() != 0.0 {
        return format!("{ms}ms");
    }
    format_duration(ms as u64)
}

/// A custom SLI's query: it holds `{{.window}}` and reads as PromQL once a window is put in.
fn read_query(cx: &mut Cx, node: &Node, key: &str) -> Option<String> {
    let query = cx.text(node, key)?;
    if !query.contains(WINDOW_PLACEHOLDER) {
        cx.error(
            "missing-window",
            node.span,
            format!("the `{key}` query has no `{WINDOW_PLACEHOLDER}`"),
            format!(
                "write the range as `[{WINDOW_PLACEHOLDER}]`, e.g. `sum(rate(http_requests_total[{WINDOW_PLACEHOLDER}]))`: \
                 the rules put each window of the burn-rate alerts there"
            ),
        );
        return None;
    }
    if let Err(message) = promql_parser::parser::parse(&query.replace(WINDOW_PLACEHOLDER, "5m")) {
        cx.error(
            "bad-query",
            node.span,
            format!("the `{key}` query is not PromQL: {}", message.trim()),
            "fix the query; try it with a window such as `5m` on the metrics page (`/ui/metrics`)",
        );
        return None;
    }
    Some(query)
}
