//! Durations as written in `deploy.yml` (`500ms`, `2s`, `1m`, `1h`, and sums such as `1m30s`)
//! to and from milliseconds.

/// The units a duration may use, longest suffix first so `ms` is not read as `m`.
const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty")]
    Empty,
    #[error("`{text}` is not a duration: expected a number at `{rest}`")]
    ExpectedNumber { text: String, rest: String },
    #[error("`{text}` has no unit")]
    NoUnit { text: String },
    #[error("`{text}` has an unknown unit at `{rest}`")]
    UnknownUnit { text: String, rest: String },
    #[error("`{text}` is too long a duration")]
    TooLong { text: String },
}

/// Milliseconds of a duration such as `500ms`, `2s`, `1m30s` or `1h`.
///
/// # Errors
/// What is wrong with `text`, in words.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::ExpectedNumber { text: text.to_owned(), rest: rest.to_owned() });
        }
        let number: u64 = rest[..digits].parse().map_err(|_| DurationError::TooLong { text: text.to_owned() })?;
        rest = &rest[digits..];
        let Some((suffix, factor)) = UNITS.iter().find(|(suffix, _)| {
            rest.strip_prefix(suffix).is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphabetic()))
        }) else {
            return Err(if rest.is_empty() {
                DurationError::NoUnit { text: text.to_owned() }
            } else {
                DurationError::UnknownUnit { text: text.to_owned(), rest: rest.to_owned() }
            });
        };
        rest = &rest[suffix.len()..];
        total = number
            .checked_mul(*factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| DurationError::TooLong { text: text.to_owned() })?;
    }
    Ok(total)
}

/// A duration in the shortest of the file's own words: `500ms`, `2s`, `1m30s`, `1h`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if !ms.is_multiple_of(1_000) {
        return format!("{ms}ms");
    }
    let mut out = String::new();
    let mut rest = ms;
    for (suffix, factor) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if rest >= factor {
            out.push_str(&format!("{}{suffix}", rest / factor));
            rest %= factor;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_every_unit_and_sums() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("2s"), Ok(2_000));
        assert_eq!(parse_duration("1m"), Ok(60_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        assert_eq!(parse_duration(" 0s "), Ok(0));
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let message = |text: &str| parse_duration(text).map_err(|error| error.to_string());
        assert_eq!(message("30"), Err("`30` has no unit".to_owned()));
        assert_eq!(message("3 days"), Err("`3 days` has an unknown unit at ` days`".to_owned()));
        assert_eq!(message("2sec"), Err("`2sec` has an unknown unit at `sec`".to_owned()));
        assert_eq!(message("s"), Err("`s` is not a duration: expected a number at `s`".to_owned()));
        assert_eq!(message(""), Err("a duration cannot be empty".to_owned()));
        assert_eq!(
            parse_duration("99999999999999999999h"),
            Err(DurationError::TooLong { text: "99999999999999999999h".to_owned() })
        );
        assert!(matches!(parse_duration("9999999999999999h"), Err(DurationError::TooLong { .. })));
    }

    #[test]
    fn formatting_reads_back() {
        for ms in [0, 500, 2_000, 90_000, 3_600_000, 3_661_000] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms), "{ms}");
        }
        assert_eq!(format_duration(90_000), "1m30s");
    }
}
