//! `on.schedule`: whether a workflow's cron strings fire at a given minute (UTC), as GitHub
//! reads them (five POSIX fields, month and weekday names allowed).

use crate::model::{TriggerKind, Workflow};

/// The cron strings of the workflow's `on.schedule`.
pub fn crons(workflow: &Workflow) -> Vec<String> {
    workflow
        .on
        .iter()
        .filter_map(|trigger| match &trigger.kind {
            TriggerKind::Schedule(crons) => Some(crons.iter().map(|cron| cron.value.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Whether `cron` fires in the minute that starts `unix_minute * 60` seconds after the Unix
/// epoch (UTC); a cron string that does not parse never fires (`ferry lint` reports it).
pub fn fires_at(cron: &str, unix_minute: i64) -> bool {
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    let Ok(cron) = parser.parse(cron) else { return false };
    let Some(time) = chrono::DateTime::from_timestamp(unix_minute.saturating_mul(60), 0) else { return false };
    cron.is_time_matching(&time.naive_utc()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crons_fire_on_their_minutes() {
        // 2026-12-01 20:30 UTC is a Tuesday.
        let minute = 1_796_157_000 / 60;
        let cases = [
            ("* * * * *", minute, true),
            ("30 20 * * *", minute, true),
            ("31 20 * * *", minute, false),
            ("*/15 * * * *", minute, true),
            ("30 20 * * TUE", minute, true),
            ("30 20 * * MON", minute, false),
            ("30 20 1 DEC *", minute, true),
            ("not a cron", minute, false),
        ];
        for (cron, minute, want) in cases {
            assert_eq!(fires_at(cron, minute), want, "{cron}");
        }
    }
}
