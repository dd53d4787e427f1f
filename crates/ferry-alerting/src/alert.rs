//! An alert as Alertmanager's API v2 takes it (`postableAlert`), its fingerprint, and the
//! times that decide whether it is firing or resolved. Times are milliseconds since the Unix
//! epoch; `None` stands for Go's zero time (not given).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Label names to values, sorted by name (the order fingerprints and group keys use).
pub type Labels = BTreeMap<String, String>;

/// One alert as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub labels: Labels,
    #[serde(default)]
    pub annotations: Labels,
    /// When it started firing; the time it was received when not given.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// When it resolves (or resolved); `resolve_timeout` after it was received when not given.
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub generator_url: String,
}

/// An alert as the dispatcher holds it: both times known, and whether `ends_at` came from
/// the client or from `resolve_timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAlert {
    pub labels: Labels,
    pub annotations: Labels,
    pub starts_at: i64,
    pub ends_at: i64,
    pub generator_url: String,
    /// `ends_at` was not given and is `received + resolve_timeout`.
    pub timeout: bool,
    /// When it was last received (the later of two versions of one alert wins).
    pub updated_at: i64,
}

impl StoredAlert {
    /// The alert as received at `now`, with Alertmanager's defaults for missing times.
    pub fn received(alert: Alert, now: i64, resolve_timeout_ms: i64) -> StoredAlert {
        let starts_at = alert.starts_at.unwrap_or(now);
        let (ends_at, timeout) = match alert.ends_at {
            Some(ends_at) => (ends_at, false),
            None => (now.saturating_add(resolve_timeout_ms), true),
        };
        StoredAlert {
            labels: alert.labels,
            annotations: alert.annotations,
            starts_at,
            ends_at,
            generator_url: alert.generator_url,
            timeout,
            updated_at: now,
        }
    }

    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Resolved once its end is not in the future.
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at <= now
    }

    /// This alert updated by a newer version of it (Alertmanager's `Merge`): the earlier
    /// start is kept while the two overlap, and the later version's end wins unless an
    /// explicit end is replaced by a timeout one.
    pub fn merge(&self, newer: StoredAlert) -> StoredAlert {
        if newer.updated_at < self.updated_at {
            return self.merge_into_newer(newer);
        }
        let mut merged = newer;
        let overlaps = merged.starts_at <= self.ends_at && self.starts_at <= merged.ends_at;
        if overlaps && self.starts_at < merged.starts_at {
            merged.starts_at = self.starts_at;
        }
        if !self.timeout && merged.timeout && self.ends_at > merged.ends_at {
            merged.ends_at = self.ends_at;
            merged.timeout = false;
        }
        merged
    }

    fn merge_into_newer(&self, older: StoredAlert) -> StoredAlert {
        let mut merged = self.clone();
        if older.starts_at < merged.starts_at && older.starts_at <= merged.ends_at {
            merged.starts_at = older.starts_at;
        }
        merged
    }
}

/// Alertmanager's (Prometheus') fingerprint of a label set: FNV-1a 64 over each name and
/// value in name order, each followed by the byte 0xff.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    if labels.is_empty() {
        return OFFSET;
    }
    for (name, value) in labels {
        add(name.as_bytes());
        add(&[0xff]);
        add(value.as_bytes());
        add(&[0xff]);
    }
    hash
}

/// A fingerprint as Alertmanager writes it: 16 hex digits.
pub fn fingerprint_hex(fingerprint: u64) -> String {
    format!("{fingerprint:016x}")
}

/// A label set as Prometheus' `LabelSet.String()` writes it: `{a="1", b="2"}`.
pub fn labels_string(labels: &Labels) -> String {
    let parts: Vec<String> = labels.iter().map(|(name, value)| format!("{name}={}", go_quote(value))).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A string quoted as Go's `%q` does for printable text: `"`, `\` and control characters escaped.
pub fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ch if ch.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(ch))),
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

/// Milliseconds since the epoch as RFC 3339 in UTC, as Go marshals a `time.Time`
/// (fractional seconds only when there are any); `None` is Go's zero time.
pub fn rfc3339(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "0001-01-01T00:00:00Z".to_owned() };
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(time) => {
            // Go's RFC3339Nano: trailing zeros of the fraction dropped, and the dot with them.
            let text = time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
            let (fraction_start, rest) = text.split_once('.').unwrap_or((&text, ""));
            let fraction = rest.trim_end_matches('Z').trim_end_matches('0');
            if fraction.is_empty() { format!("{fraction_start}Z") } else { format!("{fraction_start}.{fraction}Z") }
        }
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

/// A text that is not an RFC 3339 time, and what the parser found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an RFC 3339 time: {reason}")]
pub struct Rfc3339Error {
    pub text: String,
    pub reason: chrono::ParseError,
}

/// RFC 3339 text to milliseconds since the epoch; Go's zero time (year 1) reads as `None`.
///
/// # Errors
/// The text is not an RFC 3339 time.
pub fn parse_rfc3339(text: &str) -> Result<Option<i64>, Rfc3339Error> {
    let time =
        chrono::DateTime::parse_from_rfc3339(text).map_err(|reason| Rfc3339Error { text: text.to_owned(), reason })?;
    if time.timestamp() <= -62_135_596_800 {
        return Ok(None);
    }
    Ok(Some(time.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn fingerprints_match_prometheus() {
        // Values from prometheus/common's model/signature_test.go (TestLabelsToSignature).
        assert_eq!(fingerprint(&Labels::new()), 14_695_981_039_346_656_037);
        assert_eq!(
            fingerprint(&labels(&[("name", "garland, briggs"), ("fear", "love is not enough")])),
            5_799_056_148_416_392_346
        );
    }

    #[test]
    fn label_sets_print_as_prometheus_does() {
        assert_eq!(labels_string(&labels(&[("b", "2"), ("a", "x\"y")])), r#"{a="x\"y", b="2"}"#);
    }

    #[test]
    fn times_round_trip_with_go_zero() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(Some(1_500)), "1970-01-01T00:00:01.5Z");
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:02+00:00"), Ok(Some(2_000)));
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
