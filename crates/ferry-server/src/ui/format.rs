//! How pages write states, durations and times; pure, so `tests.rs` pins them. `app.js`
//! writes durations and states the same way for what it updates live.

use ferry_model::{Conclusion, Status};

/// The one word shown (and the CSS class used) for something with a status and maybe a
/// conclusion: the conclusion once there is one, else `queued` or `running`.
pub(super) fn state(status: Status, conclusion: Option<Conclusion>) -> &'static str {
    match (conclusion, status) {
        (Some(conclusion), _) => conclusion.as_str(),
        (None, Status::Waiting) => "waiting",
        (None, Status::Queued) => "queued",
        (None, Status::InProgress) => "running",
        (None, Status::Completed) => "completed",
    }
}

/// What a job's box says on its right: how long it ran (or runs), else its state — a job
/// cancelled before it started says `cancelled`, never `completed`.
pub(super) fn job_detail(
    status: Status,
    conclusion: Option<Conclusion>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    now: i64,
) -> String {
    elapsed(started_at, finished_at, now).map_or_else(|| state(status, conclusion).to_owned(), duration)
}

/// `42s`, `3m 05s`, `1h 02m`: seconds are enough for CI.
pub(super) fn duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// How long something ran: until it finished, or until `now` while it runs; `None` before it
/// started.
pub(super) fn elapsed(started_at: Option<i64>, finished_at: Option<i64>, now: i64) -> Option<i64> {
    started_at.map(|started| (finished_at.unwrap_or(now) - started).max(0))
}

/// `just now`, `12s ago`, `5m ago`, `3h ago`, `2d ago`, then the date.
pub(super) fn relative(at: i64, now: i64) -> String {
    let secs = (now - at).max(0) / 1000;
    match secs {
        0..10 => "just now".to_owned(),
        10..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..2_592_000 => format!("{}d ago", secs / 86_400),
        _ => utc(at)[..10].to_owned(),
    }
}

/// `2026-03-04 05:06:07 UTC` for milliseconds since the Unix epoch.
pub(super) fn utc(at: i64) -> String {
    let secs = at.div_euclid(1000);
    let (days, secs_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days to a civil date (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (secs_of_day / 3600, secs_of_day % 3600 / 60, secs_of_day % 60);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} UTC")
}

/// The branch or tag a full ref names (`refs/heads/main` → `main`).
pub(super) fn short_ref(git_ref: &str) -> &str {
    git_ref.strip_prefix("refs/heads/").or_else(|| git_ref.strip_prefix("refs/tags/")).unwrap_or(git_ref)
}

/// The first 7 characters of a commit.
pub(super) fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// A size in bytes as people read it: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub(super) fn bytes(size: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if size < 1024 {
        return format!("{size} B");
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `text` as one URL path segment, percent-encoded but for letters, digits and `-._~`.
pub(super) fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, crate::URL_UNRESERVED).to_string()
}
