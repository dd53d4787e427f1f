//! The five numbers of one window, and the failures behind them.

use std::collections::{BTreeMap, HashMap, HashSet};

use ferry_proto::dora::{
    ChangeFailureRate, DeploymentFrequency, DoraReport, DoraWindow, LeadTime, RecoveryTime, ReworkRate,
};

use crate::tiers::{change_failure_tier, frequency_tier, lead_time_tier, recovery_tier};
use crate::{DAY, Deployment, History, Outcome, Window, nearest_rank, rfc3339};

/// A failed deployment of a window: its outcome was `failed` or `rolled_back`, or incidents
/// are attributed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub deployment: i64,
    pub finished_at: i64,
    pub outcome: Outcome,
    /// The incidents attributed to it, by id.
    pub incidents: Vec<i64>,
    /// When the failure began: the deployment's finish when its outcome failed, else the
    /// earliest start of its incidents.
    pub began_at: i64,
    /// When service was restored: the first of a later successful deployment's finish and
    /// its incidents' resolution, if that was before the horizon.
    pub recovered_at: Option<i64>,
}

impl Failure {
    /// Seconds from the failure to its recovery.
    #[must_use]
    pub fn recovery_seconds(&self) -> Option<i64> {
        self.recovered_at.map(|at| (at - self.began_at).max(0))
    }
}

/// The deployments in finish order (ties by id): the order every rule reads them in.
fn in_order(history: &History) -> Vec<&Deployment> {
    let mut deployments: Vec<&Deployment> = history.deployments.iter().collect();
    deployments.sort_by_key(|deployment| (deployment.finished_at, deployment.id));
    deployments
}

/// Which deployment each incident is attributed to (incident id → deployment id): the one it
/// names; else the one that first brought the commit it names; else the last successful one
/// that finished at or before it started. An incident before any deployment has none.
#[must_use]
pub fn attributions(history: &History) -> BTreeMap<i64, i64> {
    let ordered = in_order(history);
    let mut first_brought: HashMap<&str, i64> = HashMap::new();
    for deployment in &ordered {
        for commit in &deployment.commits {
            first_brought.entry(commit.sha.as_str()).or_insert(deployment.id);
        }
    }
    let mut attributed = BTreeMap::new();
    for incident in &history.incidents {
        let by_commit = incident.caused_by_commit.as_deref().and_then(|sha| first_brought.get(sha).copied());
        let by_time = || {
            ordered
                .iter()
                .rev()
                .find(|deployment| deployment.succeeded() && deployment.finished_at <= incident.started_at)
                .map(|deployment| deployment.id)
        };
        if let Some(deployment) = incident.caused_by_deployment.or(by_commit).or_else(by_time) {
            attributed.insert(incident.id, deployment);
        }
    }
    attributed
}

/// The failed deployments that finished in `window`, in finish order, with recoveries seen
/// before `horizon`.
#[must_use]
pub fn failures(history: &History, window: Window, horizon: i64) -> Vec<Failure> {
    let ordered = in_order(history);
    let attributed = attributions(history);
    let mut incidents_of: HashMap<i64, Vec<&crate::Incident>> = HashMap::new();
    for incident in &history.incidents {
        if let Some(deployment) = attributed.get(&incident.id) {
            incidents_of.entry(*deployment).or_default().push(incident);
        }
    }
    let mut failures = Vec::new();
    for deployment in ordered.iter().filter(|deployment| window.holds(deployment.finished_at)) {
        let incidents = incidents_of.get(&deployment.id).map_or(&[][..], Vec::as_slice);
        let outcome_failed = deployment.outcome != Outcome::Succeeded;
        if !outcome_failed && incidents.is_empty() {
            continue;
        }
        let began_at = if outcome_failed {
            deployment.finished_at
        } else {
            incidents.iter().map(|incident| incident.started_at).min().unwrap_or(deployment.finished_at)
        };
        let next_success = ordered
            .iter()
            .find(|later| later.id != deployment.id && later.succeeded() && later.finished_at > began_at)
            .map(|later| later.finished_at);
        let resolved = incidents.iter().filter_map(|incident| incident.resolved_at).map(|at| at.max(began_at));
        let recovered_at = next_success.into_iter().chain(resolved).min().filter(|at| *at < horizon);
        failures.push(Failure {
            deployment: deployment.id,
            finished_at: deployment.finished_at,
            outcome: deployment.outcome,
            incidents: incidents.iter().map(|incident| incident.id).collect(),
            began_at,
            recovered_at,
        });
    }
    failures
}

/// What one unit gives the keys of a window: the counts, and the values medians are taken of.
/// The project's keys add up those of its units ([`project_report`]).
#[derive(Debug, Default)]
struct Tally {
    /// Deployments that finished in the window.
    total: u64,
    /// Those that succeeded, and the UTC days (days since the epoch) they finished on.
    successes: u64,
    success_days: HashSet<i64>,
    /// Seconds from each commit to the first successful deployment that brought it.
    lead_times: Vec<i64>,
    failed: u64,
    /// Seconds from each failure to its recovery, for those recovered.
    recoveries: Vec<i64>,
    rework: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.total += other.total;
        self.successes += other.successes;
        self.success_days.extend(other.success_days);
        self.lead_times.extend(other.lead_times);
        self.failed += other.failed;
        self.recoveries.extend(other.recoveries);
        self.rework += other.rework;
    }
}

/// One unit's tally over `window`, recoveries counted when they happened before `horizon`.
fn tally(history: &History, window: Window, horizon: i64) -> Tally {
    let ordered = in_order(history);
    let in_window: Vec<&&Deployment> =
        ordered.iter().filter(|deployment| window.holds(deployment.finished_at)).collect();
    let succeeded: Vec<&&&Deployment> = in_window.iter().filter(|deployment| deployment.succeeded()).collect();

    // Each commit counts once, at the first successful deployment that brought it.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut lead_times = Vec::new();
    for deployment in ordered.iter().filter(|deployment| deployment.succeeded()) {
        for commit in &deployment.commits {
            if seen.insert(commit.sha.as_str()) && window.holds(deployment.finished_at) {
                lead_times.push((deployment.finished_at - commit.at).max(0));
            }
        }
    }

    let failures = failures(history, window, horizon);
    let rework = in_window
        .iter()
        .filter(|deployment| history.incidents.iter().any(|incident| incident.open_at(deployment.began())))
        .count() as u64;
    Tally {
        total: in_window.len() as u64,
        successes: succeeded.len() as u64,
        success_days: succeeded.iter().map(|deployment| deployment.finished_at.div_euclid(DAY)).collect(),
        lead_times,
        failed: failures.len() as u64,
        recoveries: failures.iter().filter_map(Failure::recovery_seconds).collect(),
        rework,
    }
}

/// The five keys of a tally over `window`.
fn finish(mut tally: Tally, window: Window) -> DoraReport {
    let window_days = window.days();
    #[expect(clippy::cast_precision_loss, reason = "counts of deployments and days are far below 2^52")]
    let (per_day, deploy_days_per_week) = if window_days > 0.0 {
        (tally.successes as f64 / window_days, tally.success_days.len() as f64 / (window_days / 7.0))
    } else {
        (0.0, 0.0)
    };
    let n_commits = tally.lead_times.len() as u64;
    let lead_median = nearest_rank(&mut tally.lead_times, 50);
    let lead_p90 = nearest_rank(&mut tally.lead_times, 90);
    let n_recovered = tally.recoveries.len() as u64;
    let recovery_median = nearest_rank(&mut tally.recoveries, 50);
    let recovery_p90 = nearest_rank(&mut tally.recoveries, 90);
    let total = tally.total;
    let rate = |part: u64| {
        #[expect(clippy::cast_precision_loss, reason = "counts of deployments are far below 2^52")]
        let rate = (total > 0).then(|| part as f64 / total as f64);
        rate
    };
    let failure_rate = rate(tally.failed);
    DoraReport {
        window: DoraWindow { from: rfc3339(window.from), to: rfc3339(window.to) },
        deployment_frequency: DeploymentFrequency {
            deployments: tally.successes,
            per_day,
            deploy_days_per_week,
            tier: frequency_tier(per_day),
        },
        lead_time: LeadTime {
            commits: n_commits,
            median_seconds: lead_median,
            p90_seconds: lead_p90,
            tier: lead_median.map(lead_time_tier),
        },
        change_failure_rate: ChangeFailureRate {
            failed: tally.failed,
            total,
            rate: failure_rate,
            tier: failure_rate.map(change_failure_tier),
        },
        recovery_time: RecoveryTime {
            failures: n_recovered,
            median_seconds: recovery_median,
            p90_seconds: recovery_p90,
            tier: recovery_median.map(recovery_tier),
        },
        rework_rate: ReworkRate { rework: tally.rework, total, rate: rate(tally.rework) },
    }
}

/// The five keys over `window` of the units whose histories these are, recoveries counted
/// when they happened before `horizon` (the report's end).
pub(crate) fn report_until(histories: &[History], window: Window, horizon: i64) -> DoraReport {
    let mut all = Tally::default();
    for history in histories {
        all.add(tally(history, window, horizon));
    }
    finish(all, window)
}

/// The five keys over `window` (`ferry dora`): recoveries count when they happened before
/// the window's end.
#[must_use]
pub fn report(history: &History, window: Window) -> DoraReport {
    report_until(std::slice::from_ref(history), window, window.to)
}

/// The five keys over `window` of several units together (a project's services in one
/// environment): each unit's rules apply to its own history (which commits a deployment
/// brought, attribution, recovery by the unit's next success), then the units' figures are
/// added up: counts summed, the UTC days with a success united, and medians and p90s taken
/// over every unit's values.
#[must_use]
pub fn project_report(histories: &[History], window: Window) -> DoraReport {
    report_until(histories, window, window.to)
}
