//! Durations as Prometheus writes them in rule and test files (`model.Duration`: `1h30m`,
//! `5m`, `1d`, `0`), and Go's `time.Duration` text that promtool prints in its reports.

/// A text that is not a duration, in Prometheus' words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// Longer than Go's `time.Duration` (nanoseconds in an `i64`) holds.
    #[error("duration out of range: {0:?}")]
    OutOfRange(String),
}

/// Parses a Prometheus duration into milliseconds: units `y` (365 days), `w`, `d`, `h`, `m`,
/// `s`, `ms`, each at most once and largest first; `0` alone is zero.
///
/// # Errors
/// Prometheus' message for text that is not a duration.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let ms = ferry_model::duration::parse_prometheus_duration(text).map_err(|error| match error {
        ferry_model::duration::DurationError::Empty => DurationError::Empty,
        _ => DurationError::Invalid(text.to_owned()),
    })?;
    // Go's time.Duration holds nanoseconds in an i64.
    match i64::try_from(ms) {
        Ok(ms) if ms <= i64::MAX / 1_000_000 => Ok(ms),
        _ => Err(DurationError::OutOfRange(text.to_owned())),
    }
}

/// A duration as `model.Duration` prints it: `0s`, `5m`, `1d12h`; years and weeks only when
/// they divide it.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut ms = ms;
    let mut out = String::new();
    let mut unit = |name: &str, mult: i64, exact: bool| {
        if exact && ms % mult != 0 {
            return;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&format!("{v}{name}"));
            ms -= v * mult;
        }
    };
    unit("y", 365 * 86_400_000, true);
    unit("w", 7 * 86_400_000, true);
    unit("d", 86_400_000, false);
    unit("h", 3_600_000, false);
    unit("m", 60_000, false);
    unit("s", 1_000, false);
    unit("ms", 1, false);
    out
}

/// A duration of milliseconds as Go's `time.Duration.String` writes it: `0s`, `1m0s`,
/// `2m59.999s`, `1h0m0s`, `1.5s`, `500ms`.
pub fn format_go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let seconds = ms / 1000 % 60;
    let frac = ms % 1000;
    let mut secs = seconds.to_string();
    if frac != 0 {
        let digits = format!("{frac:03}");
        secs.push('.');
        secs.push_str(digits.trim_end_matches('0'));
    }
    let minutes = ms / 60_000 % 60;
    let hours = ms / 3_600_000;
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{secs}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_prometheus_does() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("2m59s999ms"), Ok(179_999));
        assert!(parse_duration("5m1h").is_err());
        assert!(parse_duration("1.5m").is_err());
        assert_eq!(format_duration(90 * 86_400_000), "90d");
        assert_eq!(format_duration(14 * 86_400_000), "2w");
        assert_eq!(format_duration(300_000), "5m");
        assert_eq!(format_go_duration(60_000), "1m0s");
        assert_eq!(format_go_duration(179_999), "2m59.999s");
        assert_eq!(format_go_duration(3_600_000), "1h0m0s");
        assert_eq!(format_go_duration(1_500), "1.5s");
    }
}
