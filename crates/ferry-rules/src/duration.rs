//! Durations as Prometheus writes them in rule and test files (`model.Duration`: `1h30m`,
//! `5m`, `1d`, `0`), and Go's `time.Duration` text that promtool prints in its reports.

/// Parses a Prometheus duration into milliseconds: units `y` (365 days), `w`, `d`, `h`, `m`,
/// `s`, `ms`, each at most once and largest first; `0` alone is zero.
///
/// # Errors
/// Prometheus' message for text that is not a duration.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    if text == "0" {
        return Ok(0);
    }
    let invalid = || format!("not a valid duration string: {text:?}");
    if text.is_empty() {
        return Err("empty duration string".to_owned());
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(offset) = UNITS[next_unit..].iter().position(|(name, _)| *name == unit) else {
            return Err(invalid());
        };
        let (_, mult) = UNITS[next_unit + offset];
        next_unit += offset + 1;
        total = number.checked_mul(mult).and_then(|ms| total.checked_add(ms)).ok_or_else(invalid)?;
    }
    // Go's time.Duration holds nanoseconds in an i64.
    if total > i64::MAX / 1_000_000 {
        return Err(format!("duration out of range: {text:?}"));
    }
    Ok(total)
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
