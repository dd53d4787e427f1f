//! Durations as Alertmanager writes them (Prometheus' `model.Duration`): units `y w d h m s
//! ms`, largest first, each at most once (`1h30m`, `90s`, `0`), read by `ferry-model`'s reader
//! and reported in Ferry's words.

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration cannot be empty")]
    Empty,
    #[error("`{0}` is not a duration (write e.g. `30s`, `5m` or `1h30m`)")]
    NotADuration(String),
    #[error("`{0}` has no unit or an unknown one (units: y, w, d, h, m, s, ms)")]
    Unit(String),
    #[error("`{0}`: units must go from the largest to the smallest, each once")]
    OutOfOrder(String),
    #[error("`{0}` is too long a duration")]
    TooLong(String),
}

/// Milliseconds of a duration.
///
/// # Errors
/// Not a duration, units out of order or repeated, or too long to count in milliseconds.
pub fn parse_duration(text: &str) -> Result<i64, DurationError> {
    use ferry_model::duration::DurationError as Syntax;
    let ms = ferry_model::duration::parse_prometheus_duration(text).map_err(|error| match error {
        Syntax::Empty => DurationError::Empty,
        Syntax::ExpectedNumber { text, .. } => DurationError::NotADuration(text),
        Syntax::NoUnit { text } | Syntax::UnknownUnit { text, .. } => DurationError::Unit(text),
        Syntax::OutOfOrder { text } => DurationError::OutOfOrder(text),
        Syntax::TooLong { text } => DurationError::TooLong(text),
    })?;
    i64::try_from(ms).map_err(|_| DurationError::TooLong(text.to_owned()))
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
        assert_eq!(parse_duration("30"), Err(DurationError::Unit("30".to_owned())));
        assert_eq!(parse_duration("5m1h"), Err(DurationError::OutOfOrder("5m1h".to_owned())));
        assert_eq!(parse_duration("1.5h"), Err(DurationError::Unit("1.5h".to_owned())));
        assert_eq!(parse_duration("h"), Err(DurationError::NotADuration("h".to_owned())));
        assert_eq!(
            parse_duration("9999999999999999999ms").map_err(|error| error.to_string()),
            Err("`9999999999999999999ms` is too long a duration".to_owned())
        );
    }
}
