//! The weekly trend: the window cut into weeks that end at its end (the oldest one shorter
//! when the window is not a whole number of weeks), each with its own keys.

use ferry_proto::dora::DoraReport;

use crate::keys::report_until;
use crate::{History, WEEK, Window};

/// One week of the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub window: Window,
    pub report: DoraReport,
}

/// The keys of each week of `window`, oldest first, over the units whose histories these are
/// (one unit, or a project's, added up as [`crate::project_report`] does). A failure's
/// recovery counts in its week when it happened before the whole window's end.
#[must_use]
pub fn weekly(histories: &[History], window: Window) -> Vec<Week> {
    let mut weeks = Vec::new();
    let mut to = window.to;
    while to > window.from {
        let week = Window { from: (to - WEEK).max(window.from), to };
        weeks.push(Week { window: week, report: report_until(histories, week, window.to) });
        to = week.from;
    }
    weeks.reverse();
    weeks
}
