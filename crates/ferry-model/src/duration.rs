//! Durations written as numbers with units (`1h30m`, `500ms`): the one reader behind every
//! format Ferry takes them in. A format brings its units and says how they may follow each
//! other: largest first and each once (Prometheus' `model.Duration`, which rule files, unit
//! tests and Alertmanager's configuration share), or in any order (`deploy.yml`).

/// A unit: its suffix and the milliseconds it stands for.
pub type Unit = (&'static str, u64);

/// Prometheus' units, largest first: `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`.
pub const PROMETHEUS_UNITS: &[Unit] = &[
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// How the units of one duration may follow each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitOrder {
    /// Any order, a unit repeated or not (`1m30s`, `30s1m`).
    Any,
    /// In the order of the units' table, each at most once (`1h30m`, never `30m1h`).
    LargestFirst,
}

/// Why a text is not a duration. The messages are `deploy.yml`'s; formats that word their
/// findings otherwise (Prometheus' own messages in rule files) match on the variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty")]
    Empty,
    #[error("`{text}` is not a duration: expected a number at `{rest}`")]
    ExpectedNumber { text: String, rest: String },
    /// The text ends with a number.
    #[error("`{text}` has no unit")]
    NoUnit { text: String },
    /// `rest` starts with letters (or other text) that are none of the units.
    #[error("`{text}` has an unknown unit at `{rest}`")]
    UnknownUnit { text: String, rest: String },
    /// A unit came after a smaller one, or twice, under [`UnitOrder::LargestFirst`].
    #[error("`{text}`: units must go from the largest to the smallest, each once")]
    OutOfOrder { text: String },
    /// The milliseconds do not fit in a `u64`.
    #[error("`{text}` is too long a duration")]
    TooLong { text: String },
}

/// Milliseconds of `text`, a sequence of a number and a unit of `units` (`1m30s`): a unit is
/// the whole run of letters after its number, so `5ms` is five milliseconds and `5mx` is
/// refused.
///
/// # Errors
/// What is wrong with `text`, and where.
pub fn parse_duration(text: &str, units: &[Unit], order: UnitOrder) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::ExpectedNumber { text: text.to_owned(), rest: rest.to_owned() });
        }
        let number: u64 = rest[..digits].parse().map_err(|_| DurationError::TooLong { text: text.to_owned() })?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let Some(unit_idx) = units.iter().position(|(suffix, _)| *suffix == &rest[..unit_len]) else {
            return Err(if rest.is_empty() {
                DurationError::NoUnit { text: text.to_owned() }
            } else {
                DurationError::UnknownUnit { text: text.to_owned(), rest: rest.to_owned() }
            });
        };
        if order == UnitOrder::LargestFirst {
            if unit_idx < next_unit {
                return Err(DurationError::OutOfOrder { text: text.to_owned() });
            }
            next_unit = unit_idx + 1;
        }
        rest = &rest[unit_len..];
        total = number
            .checked_mul(units[unit_idx].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| DurationError::TooLong { text: text.to_owned() })?;
    }
    Ok(total)
}

/// Milliseconds of a duration as Prometheus writes one: [`PROMETHEUS_UNITS`] largest first,
/// each at most once; `0` alone is zero.
///
/// # Errors
/// As [`parse_duration`].
pub fn parse_prometheus_duration(text: &str) -> Result<u64, DurationError> {
    if text == "0" {
        return Ok(0);
    }
    parse_duration(text, PROMETHEUS_UNITS, UnitOrder::LargestFirst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations_go_largest_first() {
        assert_eq!(parse_prometheus_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_prometheus_duration("2m59s999ms"), Ok(179_999));
        assert_eq!(parse_prometheus_duration("5ms"), Ok(5));
        assert_eq!(parse_prometheus_duration("1y1w1d"), Ok(373 * 86_400_000));
        assert_eq!(parse_prometheus_duration("0"), Ok(0));
        assert_eq!(parse_prometheus_duration("5m1h"), Err(DurationError::OutOfOrder { text: "5m1h".to_owned() }));
        assert_eq!(parse_prometheus_duration("1m1m"), Err(DurationError::OutOfOrder { text: "1m1m".to_owned() }));
        assert_eq!(
            parse_prometheus_duration("5mx"),
            Err(DurationError::UnknownUnit { text: "5mx".to_owned(), rest: "mx".to_owned() })
        );
        assert_eq!(
            parse_prometheus_duration("1.5m"),
            Err(DurationError::UnknownUnit { text: "1.5m".to_owned(), rest: ".5m".to_owned() })
        );
        assert_eq!(parse_prometheus_duration("30"), Err(DurationError::NoUnit { text: "30".to_owned() }));
        assert_eq!(parse_prometheus_duration(""), Err(DurationError::Empty));
    }

    #[test]
    fn any_order_takes_sums_in_every_order() {
        let units: &[Unit] = &[("ms", 1), ("s", 1_000), ("m", 60_000)];
        assert_eq!(parse_duration("30s1m", units, UnitOrder::Any), Ok(90_000));
        assert_eq!(parse_duration("1s1s", units, UnitOrder::Any), Ok(2_000));
        assert_eq!(
            parse_duration("1d", units, UnitOrder::Any),
            Err(DurationError::UnknownUnit { text: "1d".to_owned(), rest: "d".to_owned() })
        );
        assert_eq!(
            parse_duration("s", units, UnitOrder::Any),
            Err(DurationError::ExpectedNumber { text: "s".to_owned(), rest: "s".to_owned() })
        );
        assert!(matches!(
            parse_duration("99999999999999999999ms", units, UnitOrder::Any),
            Err(DurationError::TooLong { .. })
        ));
        assert!(matches!(
            parse_duration("999999999999999999m", units, UnitOrder::Any),
            Err(DurationError::TooLong { .. })
        ));
    }
}
