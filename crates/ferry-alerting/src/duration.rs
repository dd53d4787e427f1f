//! Durations as Prometheus and Alertmanager write them: units `y w d h m s ms`, largest first,
//! each at most once (`1h30m`, `90s`, `0`).

/// Units in the order they must appear.
const UNITS: &[(&str, i64)] = &[
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Milliseconds of a duration; `Err` says what is wrong in words.
///
/// # Errors
/// Not a duration, units out of order or repeated, or too long to count in milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err("a duration cannot be empty".to_owned());
    }
    let mut rest = text;
    let mut total: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration (write e.g. `30s`, `5m` or `1h30m`)"));
        }
        let number: i64 = rest[..digits].parse().map_err(|_| format!("`{text}` is too long a duration"))?;
        rest = &rest[digits..];
        // `ms` before `m` so that `5ms` is not read as five minutes and an `s`.
        let unit_idx = UNITS
            .iter()
            .enumerate()
            .filter(|(_, (suffix, _))| rest.starts_with(suffix))
            .max_by_key(|(_, (suffix, _))| suffix.len())
            .map(|(idx, _)| idx)
            .ok_or_else(|| format!("`{text}` has no unit or an unknown one (units: y, w, d, h, m, s, ms)"))?;
        if unit_idx < next_unit {
            return Err(format!("`{text}`: units must go from the largest to the smallest, each once"));
        }
        next_unit = unit_idx + 1;
        let (suffix, factor) = UNITS[unit_idx];
        rest = &rest[suffix.len()..];
        total = number
            .checked_mul(factor)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    }
    Ok(total)
}

/// A duration as Prometheus prints one: `1h30m`, `5m`, `0s`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (suffix, factor) in UNITS {
        if rest >= *factor {
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
    fn durations_read_as_prometheus_reads_them() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("5ms"), Ok(5));
        assert_eq!(parse_duration("1d"), Ok(86_400_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("5m1h").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert_eq!(format_duration(5_400_000), "1h30m");
    }
}
