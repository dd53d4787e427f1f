//! Alertmanager's time intervals (`time_intervals:`, and the older `mute_time_intervals:`):
//! a moment is inside an interval when it matches every field given (times of day, weekdays,
//! days of the month, months, years), and inside a named set when it is inside one of them.
//! Location: UTC.

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};

/// One `time_intervals:` item; an empty field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeInterval {
    /// Minutes of the day, `[start, end)`.
    pub times: Vec<(u32, u32)>,
    /// Weekdays, 0 = Sunday, inclusive ranges.
    pub weekdays: Vec<(u32, u32)>,
    /// Days of the month, inclusive; negative counts from the month's end (-1 = last day).
    pub days_of_month: Vec<(i32, i32)>,
    /// Months 1–12, inclusive.
    pub months: Vec<(u32, u32)>,
    /// Years, inclusive.
    pub years: Vec<(i32, i32)>,
}

impl TimeInterval {
    /// Whether the moment `ms` (milliseconds since the epoch, UTC) is inside.
    pub fn contains(&self, ms: i64) -> bool {
        let Some(time) = chrono::DateTime::from_timestamp_millis(ms) else { return false };
        let minute = time.hour() * 60 + time.minute();
        if !self.times.is_empty() && !self.times.iter().any(|(start, end)| (*start..*end).contains(&minute)) {
            return false;
        }
        let weekday = time.weekday().num_days_from_sunday();
        if !self.weekdays.is_empty() && !self.weekdays.iter().any(|(start, end)| (*start..=*end).contains(&weekday)) {
            return false;
        }
        if !self.days_of_month.is_empty() {
            let days_in_month = days_in_month(time.year(), time.month());
            let day = time.day() as i32;
            let resolve = |day: i32| if day < 0 { days_in_month + 1 + day } else { day };
            let inside = self.days_of_month.iter().any(|(start, end)| {
                let (start, end) = (resolve(*start).max(1), resolve(*end).min(days_in_month));
                (start..=end).contains(&day)
            });
            if !inside {
                return false;
            }
        }
        let month = time.month();
        if !self.months.is_empty() && !self.months.iter().any(|(start, end)| (*start..=*end).contains(&month)) {
            return false;
        }
        let year = time.year();
        self.years.is_empty() || self.years.iter().any(|(start, end)| (*start..=*end).contains(&year))
    }
}

/// Whether `ms` is inside any of the intervals.
pub fn any_contains(intervals: &[TimeInterval], ms: i64) -> bool {
    intervals.iter().any(|interval| interval.contains(ms))
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    match (chrono::NaiveDate::from_ymd_opt(year, month, 1), chrono::NaiveDate::from_ymd_opt(next_year, next_month, 1)) {
        (Some(first), Some(next)) => (next - first).num_days() as i32,
        _ => 31,
    }
}

/// Why an item of a time interval does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeIntervalError {
    #[error("`{0}` is not a time of day; write HH:MM between 00:00 and 24:00")]
    NotATime(String),
    /// A range (the whole item) whose start comes after its end.
    #[error("`{0}`: the range's start comes after its end")]
    Backwards(String),
    #[error("`{0}` is not a weekday (sunday … saturday)")]
    NotAWeekday(String),
    #[error("`{0}` is not a day of the month")]
    NotADay(String),
    #[error("`{0}` is not a day of the month (1 to 31, or -1 to -31 from the end)")]
    DayOutOfRange(String),
    #[error("`{0}` is not a month (1 to 12)")]
    MonthOutOfRange(String),
    #[error("`{0}` is not a month (january … december or 1 … 12)")]
    NotAMonth(String),
    #[error("`{0}` is not a year")]
    NotAYear(String),
}

/// `HH:MM` (00:00–24:00) as minutes of the day.
///
/// # Errors
/// Not a time of day.
pub fn parse_clock(text: &str) -> Result<u32, TimeIntervalError> {
    let bad = || TimeIntervalError::NotATime(text.to_owned());
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u32 = hours.parse().map_err(|_| bad())?;
    let minutes: u32 = minutes.parse().map_err(|_| bad())?;
    if minutes >= 60 || hours > 24 || (hours == 24 && minutes != 0) {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

const WEEKDAYS: &[&str] = &["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `start:end` or one item, each read by `one`; the range must not run backwards.
fn range<T: Copy + PartialOrd>(
    text: &str,
    one: impl Fn(&str) -> Result<T, TimeIntervalError>,
) -> Result<(T, T), TimeIntervalError> {
    let (start, end) = match text.split_once(':') {
        Some((start, end)) => (one(start.trim())?, one(end.trim())?),
        None => {
            let value = one(text.trim())?;
            (value, value)
        }
    };
    if start > end {
        return Err(TimeIntervalError::Backwards(text.to_owned()));
    }
    Ok((start, end))
}

/// `monday:friday` or `saturday` (case-insensitive).
///
/// # Errors
/// Not a weekday or a range of them.
pub fn parse_weekdays(text: &str) -> Result<(u32, u32), TimeIntervalError> {
    range(text, |day| {
        WEEKDAYS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(day))
            .map(|idx| idx as u32)
            .ok_or_else(|| TimeIntervalError::NotAWeekday(day.to_owned()))
    })
}

/// `1:5`, `-3:-1` or `15`; days are 1–31 or -31–-1.
///
/// # Errors
/// Not a day of the month or a range of them.
pub fn parse_days_of_month(text: &str) -> Result<(i32, i32), TimeIntervalError> {
    let (start, end) = match text.split_once(':') {
        Some((start, end)) => (start.trim(), end.trim()),
        None => (text.trim(), text.trim()),
    };
    let day = |day: &str| -> Result<i32, TimeIntervalError> {
        let value: i32 = day.parse().map_err(|_| TimeIntervalError::NotADay(day.to_owned()))?;
        if value == 0 || !(-31..=31).contains(&value) {
            return Err(TimeIntervalError::DayOutOfRange(day.to_owned()));
        }
        Ok(value)
    };
    let (start, end) = (day(start)?, day(end)?);
    // Mixed signs are resolved per month; same signs must not run backwards.
    if (start > 0) == (end > 0) && start > end {
        return Err(TimeIntervalError::Backwards(text.to_owned()));
    }
    Ok((start, end))
}

/// `january:march`, `12` or `1:3`.
///
/// # Errors
/// Not a month or a range of them.
pub fn parse_months(text: &str) -> Result<(u32, u32), TimeIntervalError> {
    range(text, |month| {
        if let Ok(number) = month.parse::<u32>() {
            return if (1..=12).contains(&number) {
                Ok(number)
            } else {
                Err(TimeIntervalError::MonthOutOfRange(month.to_owned()))
            };
        }
        MONTHS
            .iter()
            .position(|name| name.eq_ignore_ascii_case(month))
            .map(|idx| idx as u32 + 1)
            .ok_or_else(|| TimeIntervalError::NotAMonth(month.to_owned()))
    })
}

/// `2020:2022` or `2024`.
///
/// # Errors
/// Not a year or a range of them.
pub fn parse_years(text: &str) -> Result<(i32, i32), TimeIntervalError> {
    range(text, |year| year.parse::<i32>().map_err(|_| TimeIntervalError::NotAYear(year.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 was a Monday.
    fn at(day: u32, hour: u32, minute: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|date| date.and_hms_opt(hour, minute, 0))
            .map(|time| time.and_utc().timestamp_millis())
            .expect("a valid date")
    }

    #[test]
    fn business_hours_contain_a_weekday_morning_only() {
        let interval = TimeInterval {
            times: vec![(
                parse_clock("09:00").expect("the test's input is valid"),
                parse_clock("17:00").expect("the test's input is valid"),
            )],
            weekdays: vec![parse_weekdays("monday:friday").expect("the test's input is valid")],
            ..TimeInterval::default()
        };
        assert!(interval.contains(at(7, 9, 0)));
        assert!(!interval.contains(at(7, 17, 0)));
        assert!(!interval.contains(at(6, 10, 0)), "a Sunday");
    }

    #[test]
    fn negative_days_count_from_the_months_end() {
        let interval = TimeInterval {
            days_of_month: vec![parse_days_of_month("-2:-1").expect("the test's input is valid")],
            ..TimeInterval::default()
        };
        assert!(interval.contains(at(31, 0, 0)));
        assert!(interval.contains(at(30, 0, 0)));
        assert!(!interval.contains(at(29, 0, 0)));
        let months = TimeInterval {
            months: vec![parse_months("november:december").expect("the test's input is valid")],
            years: vec![parse_years("2026").expect("the test's input is valid")],
            ..TimeInterval::default()
        };
        assert!(months.contains(at(1, 0, 0)));
    }

    #[test]
    fn bad_fields_say_what_is_wrong() {
        assert!(parse_clock("25:00").is_err());
        assert!(parse_clock("24:00").is_ok());
        assert!(parse_weekdays("friday:monday").is_err());
        assert!(parse_weekdays("funday").is_err());
        assert!(parse_days_of_month("0").is_err());
        assert!(parse_months("13").is_err());
    }
}
