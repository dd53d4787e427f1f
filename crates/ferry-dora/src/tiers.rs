//! Performance tiers by the 2024 Accelerate State of DevOps report's clusters (DORA, 2024,
//! "Software delivery performance"). The report gives each cluster's typical value; a key's
//! tier is the cluster it falls in, with the boundaries `docs/dora.md` lists:
//!
//! | key | elite | high | medium | low |
//! |---|---|---|---|---|
//! | deployment frequency | on demand (several a day) | daily to weekly | weekly to monthly | monthly to every six months |
//! | lead time for changes | < 1 day | 1 day to 1 week | 1 week to 1 month | 1 to 6 months |
//! | change failure rate | 5 % | 20 % | 10 % | 40 % |
//! | failed deployment recovery time | < 1 hour | < 1 day | < 1 day | 1 week to 1 month |
//!
//! Change failure rates are points, and the high cluster's is worse than the medium's: a rate
//! takes the tier whose value is nearest. Recovery times of high and medium are both "less
//! than one day": Ferry calls under a day high and a day to a week (the gap before low) medium.

use ferry_proto::dora::Tier;

use crate::{DAY, WEEK};

/// Deployment frequency's tier from successful deployments per day: at least one a day is
/// elite, one a week high, one a month (30 days) medium, less low.
#[must_use]
pub fn frequency_tier(per_day: f64) -> Tier {
    if per_day >= 1.0 {
        Tier::Elite
    } else if per_day >= 1.0 / 7.0 {
        Tier::High
    } else if per_day >= 1.0 / 30.0 {
        Tier::Medium
    } else {
        Tier::Low
    }
}

/// Lead time's tier from its median in seconds: under a day elite, a week high, 30 days
/// medium, else low.
#[must_use]
pub fn lead_time_tier(median_seconds: i64) -> Tier {
    if median_seconds < DAY {
        Tier::Elite
    } else if median_seconds < WEEK {
        Tier::High
    } else if median_seconds < 30 * DAY {
        Tier::Medium
    } else {
        Tier::Low
    }
}

/// Change failure rate's tier: the cluster whose rate is nearest (elite 5 %, medium 10 %,
/// high 20 %, low 40 %), so up to 7.5 % elite, 15 % medium, 30 % high, above low.
#[must_use]
pub fn change_failure_tier(rate: f64) -> Tier {
    if rate <= 0.075 {
        Tier::Elite
    } else if rate <= 0.15 {
        Tier::Medium
    } else if rate <= 0.30 {
        Tier::High
    } else {
        Tier::Low
    }
}

/// Recovery time's tier from its median in seconds: under an hour elite, a day high, a week
/// medium, else low.
#[must_use]
pub fn recovery_tier(median_seconds: i64) -> Tier {
    if median_seconds < 3600 {
        Tier::Elite
    } else if median_seconds < DAY {
        Tier::High
    } else if median_seconds < WEEK {
        Tier::Medium
    } else {
        Tier::Low
    }
}
