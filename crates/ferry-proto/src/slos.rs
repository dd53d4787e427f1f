//! Service level objectives on the wire: each SLO's error budget in each environment, as
//! `GET /api/v1/projects/{name}/slos` answers and `ferry slo --json` prints, and the budget
//! burn over the SLO's window that the UI charts. `docs/monitoring.md` defines every number.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an SLO's error budget stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SloStatus {
    /// Some budget is left.
    Ok,
    /// The errors over the window used up the budget (what is left is 0 or less): a
    /// production deployment with `error-budget: hold` waits.
    Exhausted,
    /// No request was counted over the window (or the query failed): nothing is judged.
    NoData,
}

impl SloStatus {
    /// The status as the JSON and the UI write it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SloStatus::Ok => "ok",
            SloStatus::Exhausted => "exhausted",
            SloStatus::NoData => "no-data",
        }
    }
}

/// One SLO of a service in one environment it is deployed to, judged at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SloView {
    pub service: String,
    pub environment: String,
    /// The SLO's name in deploy.yml.
    pub slo: String,
    /// The objective in percent (`99.9`).
    pub objective: f64,
    /// The window the budget is counted over, as written (`30d`).
    pub window: String,
    /// Failed events over all events in the window; `null` without data.
    pub error_ratio: Option<f64>,
    /// `1 − error_ratio / (1 − objective/100)`: 1 is the whole budget, 0 none left, below 0
    /// overspent; `null` without data.
    pub budget_remaining: Option<f64>,
    /// The error ratio over the last hour divided by the budget (1: on track to spend exactly
    /// the budget over the window); `null` without data.
    pub burn_rate_1h: Option<f64>,
    pub status: SloStatus,
}
