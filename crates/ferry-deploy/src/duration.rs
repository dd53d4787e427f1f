//! Durations as written in `deploy.yml` (`500ms`, `2s`, `1m`, `1h`, and sums such as `1m30s`)
//! to and from milliseconds.

/// The units a duration may use, longest suffix first so `ms` is not read as `m`.
const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// Milliseconds of a duration such as `500ms`, `2s`, `1m30s` or `1h`; `Err` says what is wrong
/// in words.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("a duration cannot be empty".to_owned());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration: expected a number at `{rest}`"));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| format!("`{text}` is too long a duration"))?;
        rest = &rest[digits..];
        let Some((suffix, factor)) = UNITS.iter().find(|(suffix, _)| {
            rest.strip_prefix(suffix).is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphabetic()))
        }) else {
            return Err(if rest.is_empty() {
                format!("`{text}` has no unit")
            } else {
                format!("`{text}` has an unknown unit at `{rest}`")
            });
        };
        rest = &rest[suffix.len()..];
        total = number
            .checked_mul(*factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
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
        assert_eq!(parse_duration("30"), Err("`30` has no unit".to_owned()));
        assert_eq!(parse_duration("3 days"), Err("`3 days` has an unknown unit at ` days`".to_owned()));
        assert_eq!(parse_duration("2sec"), Err("`2sec` has an unknown unit at `sec`".to_owned()));
        assert_eq!(parse_duration("s"), Err("`s` is not a duration: expected a number at `s`".to_owned()));
        assert_eq!(parse_duration(""), Err("a duration cannot be empty".to_owned()));
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("9999999999999999h").is_err());
    }

    #[test]
    fn formatting_reads_back() {
        for ms in [0, 500, 2_000, 90_000, 3_600_000, 3_661_000] {
            assert_eq!(parse_duration(&format_duration(ms)), Ok(ms), "{ms}");
        }
        assert_eq!(format_duration(90_000), "1m30s");
    }
}
