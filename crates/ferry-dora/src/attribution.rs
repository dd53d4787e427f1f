//! Which deployment an alert's incident is attributed to: the deployment of the unit whose
//! rollout window holds the time the alert started (it started between the deployment's
//! start and its finish, or the deployment is still under way), the latest to start when
//! several do; else the last deployment that finished before it. A deployment's finish comes
//! after its `verify:` period (the rollout watches the new release until then), so the
//! window includes the verification. Times are milliseconds, as the store keeps them.

/// A deployment of the unit as attribution sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    pub id: i64,
    /// `None`: it never started (refused at a gate, still queued), so it reached no one.
    pub started_at: Option<i64>,
    /// `None` while it is under way.
    pub finished_at: Option<i64>,
}

/// The deployment an alert that started at `at` is attributed to, among `rollouts` (in any
/// order); `None` when none had started by then.
#[must_use]
pub fn attributed_deployment(rollouts: &[Rollout], at: i64) -> Option<i64> {
    let started = rollouts.iter().filter_map(|rollout| Some((rollout, rollout.started_at?)));
    let rolling_out = started
        .clone()
        .filter(|&(rollout, started_at)| started_at <= at && rollout.finished_at.is_none_or(|finished| at <= finished))
        .max_by_key(|&(rollout, started_at)| (started_at, rollout.id));
    if let Some((rollout, _)) = rolling_out {
        return Some(rollout.id);
    }
    started
        .filter_map(|(rollout, _)| Some((rollout, rollout.finished_at?)))
        .filter(|&(_, finished_at)| finished_at <= at)
        .max_by_key(|&(rollout, finished_at)| (finished_at, rollout.id))
        .map(|(rollout, _)| rollout.id)
}

#[cfg(test)]
mod tests {
    use super::{Rollout, attributed_deployment};

    fn rollout(id: i64, started_at: Option<i64>, finished_at: Option<i64>) -> Rollout {
        Rollout { id, started_at, finished_at }
    }

    #[test]
    fn an_alert_during_a_rollout_goes_to_that_deployment() {
        let rollouts = [rollout(1, Some(0), Some(100)), rollout(2, Some(200), Some(300))];
        assert_eq!(attributed_deployment(&rollouts, 250), Some(2));
        assert_eq!(attributed_deployment(&rollouts, 200), Some(2), "its start is in the window");
        assert_eq!(attributed_deployment(&rollouts, 300), Some(2), "its finish (after verify) too");
    }

    #[test]
    fn a_deployment_under_way_holds_every_later_alert() {
        let rollouts = [rollout(1, Some(0), Some(100)), rollout(2, Some(200), None)];
        assert_eq!(attributed_deployment(&rollouts, 10_000), Some(2));
    }

    #[test]
    fn between_rollouts_the_last_finished_one_is_blamed() {
        let rollouts = [rollout(2, Some(200), Some(300)), rollout(1, Some(0), Some(100))];
        assert_eq!(attributed_deployment(&rollouts, 150), Some(1));
        assert_eq!(attributed_deployment(&rollouts, 301), Some(2));
    }

    #[test]
    fn overlapping_windows_go_to_the_latest_start() {
        // A rollback started while the failing deployment was still being verified.
        let rollouts = [rollout(1, Some(0), Some(500)), rollout(2, Some(300), Some(400))];
        assert_eq!(attributed_deployment(&rollouts, 350), Some(2));
        assert_eq!(attributed_deployment(&rollouts, 450), Some(1));
    }

    #[test]
    fn nothing_before_the_alert_and_deployments_that_never_started_blame_no_one() {
        let rollouts = [rollout(1, None, Some(50)), rollout(2, Some(200), Some(300))];
        assert_eq!(attributed_deployment(&rollouts, 100), None);
        assert_eq!(attributed_deployment(&[], 100), None);
    }
}
