//! The rollout machine: how one deployment moves a unit from the release that serves to a new
//! one, step by step, and when it rolls back. Pure and replayable: the agent keeps the
//! [`Rollout`] (serde) on disk, feeds it what it observes ([`Observation`]: its replicas and
//! its proxy's counts) with the time, and applies the [`Plan`] that comes back: how many
//! replicas of each release should run, and how the proxy weighs the releases.
//!
//! The agent's side of the contract:
//! - Replicas are wanted per release (`Plan::replicas`); a release that is not listed should
//!   have none. To reach a lower count the agent drains and stops replicas that are not
//!   healthy first, then the oldest; it never stops a replica of the new release that the
//!   plan still counts.
//! - `Plan::weights` empty: every healthy replica takes an equal share whatever its release.
//!   Otherwise each listed release takes its percentage of the requests, spread over its
//!   healthy replicas; a release with no weight takes none. Only healthy replicas ever take
//!   traffic.
//! - A replica is `Unhealthy` once it fails `unhealthy_after` checks in a row after having
//!   been healthy, or, while it starts, once it answers checks with failures (a process that
//!   still boots and refuses connections should stay `Starting`: `start_timeout_ms` judges
//!   it). A new replica that is `Unhealthy` or `Exited` fails the deployment.
//! - `step` may be called as often as the agent likes (on every report, every second); it is
//!   idempotent for the same observation and time. Once `Plan::outcome` is set the
//!   deployment is over and the agent reports the outcome; it goes on stepping until
//!   `Plan::settled`: after a rollback the new release's replicas stay until the previous
//!   release is healthy again, so that something serves throughout. The settled plan holds
//!   what should serve (the new release on success, the previous one after a rollback,
//!   nothing after a failed first deployment).
//!
//! Strategies (`N` replicas wanted, `previous` the release that served):
//! - without a previous release every strategy starts `N` new replicas and gives them all the
//!   traffic once healthy;
//! - recreate: stop every old replica, then start `N` new ones;
//! - rolling: at most `N + max_surge` replicas, at least `N - max_unavailable` healthy ones
//!   throughout: a new replica starts when there is room, an old one stops when enough
//!   others are healthy;
//! - blue-green: `N` new beside the `N` old; when all new are healthy the traffic switches at
//!   once; the old set stays (no traffic) for `keep_old_ms`, for an instant rollback;
//! - canary: for each step, `ceil(N × weight / 100)` new replicas (at least one) beside the
//!   old set; once they are healthy they get `weight` % of the requests for `pause_ms`; after
//!   the last step `N` new replicas, then all the traffic, then the old set stops.
//!
//! With `analysis.queries`, a canary step's pause ends only once each query passed one more
//! measurement on the server than when the step took its weight (or took its `count`): the
//! server's tallies come in the observation's `verdict`, so while the server is away the
//! canary holds its weight. A verdict with a failure rolls back like a breach of the limits.
//!
//! After the new release takes all traffic it is verified for `verify_ms` (blue-green: also
//! until `keep_old_ms` has passed); then the deployment has succeeded. Throughout, a new
//! replica that is unhealthy or exited, or not healthy `start_timeout_ms` after it started,
//! or the new release's traffic breaching the analysis, ends it: rolled back to the previous
//! release, or failed when there is none or when the deployment is itself a rollback.

use ferry_proto::agent::{
    AnalysisFigures, AnalysisQuery, AnalysisSpec, AnalysisVerdict, DeploymentOrder, DeploymentOutcome,
    DeploymentProgress, DeploymentStep, HealthSpec, QueryTally, ReleaseTraffic, ReplicaState, StrategySpec,
};
use serde::{Deserialize, Serialize};

use crate::analysis;
use crate::duration::format_duration;
use crate::queries;

/// What the agent sees of a unit when it steps its rollout.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Every replica of the unit, whatever its release.
    pub replicas: Vec<ObservedReplica>,
    /// The proxy's cumulative counts per release.
    pub traffic: Vec<ReleaseTraffic>,
    /// The server's verdict on `analysis.queries` (its deployment order's), when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<AnalysisVerdict>,
}

/// One replica as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedReplica {
    pub id: String,
    pub release: i64,
    pub state: ReplicaState,
    /// When its current process started (ms since the epoch).
    pub started_at: i64,
    /// Why it is not healthy, when the agent knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How many replicas of one release should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseCount {
    pub release: i64,
    pub count: u32,
}

/// The percentage of requests one release takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseWeight {
    pub release: i64,
    pub weight: u32,
}

/// What should be, after a step: see the module's documentation for how the agent applies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Replicas wanted per release; releases not listed should have none.
    pub replicas: Vec<ReleaseCount>,
    /// Traffic per release in percent (summing to 100); empty: every healthy replica alike.
    pub weights: Vec<ReleaseWeight>,
    /// The strategy's steps so far, each with when it began.
    pub steps: Vec<DeploymentStep>,
    /// Set once the deployment is over, with why in words.
    pub outcome: Option<(DeploymentOutcome, String)>,
    /// The new release's figures in this deployment, once it served a request.
    pub analysis: Option<AnalysisFigures>,
    /// Nothing will change any more: set with the outcome, or, after a rollback or a
    /// cancellation, once the previous release is back on its replicas. Until then the agent
    /// goes on stepping the rollout (even once the server has cleared the order).
    #[serde(default)]
    pub settled: bool,
}

/// Where a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    /// Recreate: waiting for every old replica to be gone.
    Stopping,
    /// Waiting for `N` healthy new replicas (recreate, blue-green, a first deployment).
    Starting,
    /// Rolling: replacing replicas a few at a time.
    Rolling,
    /// Canary step `step` (0-based): its replicas are starting (`since: None`) or it has had
    /// its weight since `since`.
    Canary { step: usize, since: Option<i64> },
    /// Canary after its steps: waiting for `N` healthy new replicas before all the traffic.
    Promoting,
    /// The new release takes all traffic; watched since `since`.
    Verifying { since: i64 },
    /// Over (the outcome is set), and the previous release comes back since `since`: the new
    /// release's replicas stay until it has `N` healthy ones again (or `start_timeout_ms`
    /// passed), so something serves throughout.
    Restoring { since: i64 },
    /// Over: `Rollout::outcome` is set.
    Done,
}

/// One deployment under way; serialisable so the agent keeps it across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub id: i64,
    /// The release being deployed.
    pub release: i64,
    /// The release that served when it started, rolled back to on a failure.
    pub previous: Option<i64>,
    /// Replicas wanted once it is over.
    pub replicas: u32,
    pub strategy: StrategySpec,
    pub analysis: Option<AnalysisSpec>,
    pub verify_ms: u64,
    pub is_rollback: bool,
    pub start_timeout_ms: u64,
    pub started_at: i64,
    pub phase: Phase,
    pub wanted: Vec<ReleaseCount>,
    pub weights: Vec<ReleaseWeight>,
    pub steps: Vec<DeploymentStep>,
    /// The new release's counts at the first step: analysis judges only what came after.
    pub baseline: Option<ReleaseTraffic>,
    pub figures: Option<AnalysisFigures>,
    pub outcome: Option<(DeploymentOutcome, String)>,
    /// How many new replicas were healthy at the last step (rolling reports each rise).
    #[serde(default)]
    pub healthy_seen: u32,
    /// The server's tallies of `analysis.queries` when the canary step under way took its
    /// weight: its pause ends only once each query passed a measurement more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_tallies: Vec<QueryTally>,
}

/// Replicas of the new and of the other releases, as observed.
struct Counts {
    new_healthy: u32,
    /// Replicas of every other release, in any state (draining ones still count).
    old_total: u32,
    /// Healthy replicas of the release that served before.
    previous_healthy: u32,
    /// The server's tallies of `analysis.queries`.
    tallies: Vec<QueryTally>,
}

impl Counts {
    fn of(observation: &Observation, release: i64, previous: Option<i64>) -> Counts {
        let tallies = observation.verdict.as_ref().map(|verdict| verdict.queries.clone()).unwrap_or_default();
        let mut counts = Counts { new_healthy: 0, old_total: 0, previous_healthy: 0, tallies };
        for replica in &observation.replicas {
            let healthy = u32::from(replica.state == ReplicaState::Healthy);
            if replica.release == release {
                counts.new_healthy += healthy;
            } else {
                counts.old_total += 1;
                if Some(replica.release) == previous {
                    counts.previous_healthy += healthy;
                }
            }
        }
        counts
    }
}

impl Rollout {
    /// Begins carrying out `order` on a unit whose `current` release serves (`None`: nothing
    /// serves yet) and that should end with `replicas` replicas checked by `health`.
    pub fn start(
        order: &DeploymentOrder,
        current: Option<i64>,
        replicas: u32,
        health: &HealthSpec,
        now: i64,
    ) -> Rollout {
        let release = order.release.number;
        let previous = current.filter(|current| *current != release);
        let replicas = replicas.max(1);
        let mut rollout = Rollout {
            id: order.id,
            release,
            previous,
            replicas,
            strategy: order.strategy.clone(),
            analysis: order.analysis.clone(),
            verify_ms: order.verify_ms,
            is_rollback: order.is_rollback,
            start_timeout_ms: health.start_timeout_ms,
            started_at: now,
            phase: Phase::Starting,
            wanted: Vec::new(),
            weights: Vec::new(),
            steps: Vec::new(),
            baseline: None,
            figures: None,
            outcome: None,
            healthy_seen: 0,
            step_tallies: Vec::new(),
        };
        let n = replicas;
        match (previous, &order.strategy) {
            (None, _) => {
                rollout.want(&[(release, n)], &[(release, 100)]);
                rollout.begin(format!("start {} of release {release}", plural(n, "replica")), now);
            }
            (Some(old), StrategySpec::Recreate) => {
                rollout.phase = Phase::Stopping;
                rollout.want(&[], &[(release, 100)]);
                rollout.begin(format!("stop the replicas of release {old}"), now);
            }
            (Some(old), StrategySpec::Rolling { max_surge, max_unavailable }) => {
                rollout.phase = Phase::Rolling;
                rollout.want(&[(old, n)], &[]);
                rollout.begin(
                    format!(
                        "replace release {old} with release {release} (max surge {max_surge}, max unavailable {max_unavailable})"
                    ),
                    now,
                );
            }
            (Some(old), StrategySpec::BlueGreen { .. }) => {
                rollout.want(&[(old, n), (release, n)], &[(old, 100)]);
                rollout.begin(format!("start {} of release {release} beside release {old}", plural(n, "replica")), now);
            }
            (Some(old), StrategySpec::Canary { steps }) => {
                if steps.is_empty() {
                    rollout.phase = Phase::Promoting;
                    rollout.want(&[(old, n), (release, n)], &[(old, 100)]);
                    rollout.begin(format!("start {} of release {release}", plural(n, "replica")), now);
                } else {
                    rollout.phase = Phase::Canary { step: 0, since: None };
                    let count = canary_count(n, steps[0].weight);
                    rollout.want(&[(old, n), (release, count)], &[(old, 100)]);
                    rollout
                        .begin(format!("start {} of release {release} for the canary", plural(count, "replica")), now);
                }
            }
        }
        rollout
    }

    /// What should be now, without stepping.
    pub fn plan(&self) -> Plan {
        Plan {
            replicas: self.wanted.clone(),
            weights: self.weights.clone(),
            steps: self.steps.clone(),
            outcome: self.outcome.clone(),
            analysis: self.figures.clone(),
            settled: self.phase == Phase::Done,
        }
    }

    /// The deployment as the agent reports it.
    pub fn progress(&self) -> DeploymentProgress {
        DeploymentProgress {
            id: self.id,
            steps: self.steps.clone(),
            outcome: self.outcome.as_ref().map(|(outcome, _)| *outcome),
            reason: self.outcome.as_ref().map(|(_, reason)| reason.clone()),
            analysis: self.figures.clone(),
        }
    }

    /// Moves the deployment on from what the agent observes at `now`, and says what should be.
    pub fn step(&mut self, observation: &Observation, now: i64) -> Plan {
        let counts = Counts::of(observation, self.release, self.previous);
        if self.outcome.is_some() {
            self.settle(&counts, now);
            return self.plan();
        }
        let traffic = observation.traffic.iter().find(|traffic| traffic.release == self.release);
        let baseline = self.baseline.get_or_insert_with(|| match traffic {
            Some(traffic) => traffic.clone(),
            None => analysis::zero_traffic(self.release),
        });
        let judged = traffic.map(|traffic| analysis::since(traffic, baseline));
        if let Some(judged) = &judged
            && judged.requests > 0
        {
            self.figures = Some(analysis::figures(judged));
        }
        if let Some(reason) = self.failure(observation, judged.as_ref(), now) {
            self.fail(reason, now);
            self.settle(&counts, now);
            return self.plan();
        }
        self.advance(&counts, now);
        self.plan()
    }

    /// Stops the deployment on request (a newer deployment supersedes it, or a person cancels
    /// it): the release that served before serves again (nothing, when none did), and the
    /// outcome is `cancelled` with `reason`. Does nothing once the deployment is over.
    pub fn cancel(&mut self, reason: &str, now: i64) -> Plan {
        if self.outcome.is_none() {
            match self.previous {
                Some(old) => {
                    self.restore(old, now);
                    self.begin(format!("cancel: release {old} serves again"), now);
                }
                None => {
                    self.want(&[], &[]);
                    self.phase = Phase::Done;
                    self.begin(format!("cancel: stop release {}", self.release), now);
                }
            }
            self.outcome = Some((DeploymentOutcome::Cancelled, reason.to_owned()));
        }
        self.plan()
    }

    /// Undoes the deployment on request, also once it succeeded here: the deployment of an
    /// environment on several hosts failed on another host (or a person cancelled it), so
    /// every host puts back the release that served before, with the outcome `cancelled`
    /// and `reason`. Before it is over this is [`Rollout::cancel`]; once it ended otherwise
    /// (rolled back, failed, cancelled) it does nothing. As after a rollback, the new
    /// release's replicas stay until the previous release is healthy again.
    pub fn revert(&mut self, reason: &str, now: i64) -> Plan {
        if !matches!(self.outcome, Some((DeploymentOutcome::Succeeded, _))) {
            return self.cancel(reason, now);
        }
        match self.previous {
            Some(old) => {
                self.restore(old, now);
                self.begin(format!("revert: release {old} serves again"), now);
            }
            None => {
                self.want(&[], &[]);
                self.phase = Phase::Done;
                self.begin(format!("revert: stop release {}", self.release), now);
            }
        }
        self.outcome = Some((DeploymentOutcome::Cancelled, reason.to_owned()));
        self.plan()
    }

    /// Why the new release fails, if it does: a replica unhealthy, exited, or not healthy in
    /// time, a query of the analysis that failed (the server's verdict), or its traffic over
    /// the analysis' limits.
    fn failure(&self, observation: &Observation, judged: Option<&ReleaseTraffic>, now: i64) -> Option<String> {
        for replica in observation.replicas.iter().filter(|replica| replica.release == self.release) {
            let detail = replica.message.as_ref().map(|message| format!(": {message}")).unwrap_or_default();
            match replica.state {
                ReplicaState::Unhealthy => {
                    return Some(format!(
                        "replica {} of release {} failed its health check{detail}",
                        replica.id, self.release
                    ));
                }
                ReplicaState::Exited => {
                    return Some(format!("replica {} of release {} exited{detail}", replica.id, self.release));
                }
                ReplicaState::Starting
                    if now.saturating_sub(replica.started_at)
                        > i64::try_from(self.start_timeout_ms).unwrap_or(i64::MAX) =>
                {
                    return Some(format!(
                        "replica {} of release {} was not healthy {} after it started{detail}",
                        replica.id,
                        self.release,
                        format_duration(self.start_timeout_ms)
                    ));
                }
                _ => {}
            }
        }
        if let Some(reason) = observation.verdict.as_ref().and_then(|verdict| verdict.failure.clone()) {
            return Some(reason);
        }
        let spec = self.analysis.as_ref()?;
        analysis::breach(spec, judged?)
    }

    fn fail(&mut self, reason: String, now: i64) {
        let (outcome, reason) = match self.previous {
            Some(old) if !self.is_rollback => {
                self.restore(old, now);
                self.begin(format!("roll back to release {old}"), now);
                (DeploymentOutcome::RolledBack, reason)
            }
            Some(old) => {
                self.restore(old, now);
                self.begin(format!("restore release {old}"), now);
                (
                    DeploymentOutcome::Failed,
                    format!("{reason}; a rollback is not rolled back, release {old} serves again"),
                )
            }
            None => {
                self.want(&[], &[]);
                self.phase = Phase::Done;
                self.begin(format!("stop release {}", self.release), now);
                (DeploymentOutcome::Failed, format!("{reason}; there is no earlier release to roll back to"))
            }
        };
        self.outcome = Some((outcome, reason));
    }

    /// Brings `old` back beside the new release's replicas (see [`Phase::Restoring`]).
    fn restore(&mut self, old: i64, now: i64) {
        let n_new = self.count_of(self.release);
        self.want(&[(old, self.replicas), (self.release, n_new)], &[]);
        self.phase = Phase::Restoring { since: now };
    }

    /// While restoring: the previous release takes all the traffic once it has a healthy
    /// replica (until then every healthy replica serves), and the new release's replicas go
    /// once it has `N`, or once it had `start_timeout_ms` to get them.
    fn settle(&mut self, counts: &Counts, now: i64) {
        let (Phase::Restoring { since }, Some(old)) = (self.phase, self.previous) else { return };
        if counts.previous_healthy >= self.replicas || elapsed(since, now, self.start_timeout_ms) {
            self.want(&[(old, self.replicas)], &[(old, 100)]);
            self.phase = Phase::Done;
        } else if counts.previous_healthy > 0 {
            self.weights = weights(&[(old, 100)]);
        } else {
            self.weights = Vec::new();
        }
    }

    fn advance(&mut self, counts: &Counts, now: i64) {
        let (n, release) = (self.replicas, self.release);
        match self.phase {
            Phase::Stopping => {
                if counts.old_total == 0 {
                    self.phase = Phase::Starting;
                    self.want(&[(release, n)], &[(release, 100)]);
                    self.begin(format!("start {} of release {release}", plural(n, "replica")), now);
                }
            }
            Phase::Starting => {
                if counts.new_healthy >= n {
                    match (self.previous, &self.strategy) {
                        (Some(old), StrategySpec::BlueGreen { .. }) => {
                            self.want(&[(old, n), (release, n)], &[(release, 100)]);
                            self.begin(format!("switch all traffic from release {old} to release {release}"), now);
                        }
                        _ => self.begin(format!("release {release} healthy on {}", plural(n, "replica")), now),
                    }
                    self.verify(now);
                }
            }
            Phase::Rolling => self.roll(counts, now),
            Phase::Canary { step, since } => self.canary(counts, step, since, now),
            Phase::Promoting => {
                if counts.new_healthy >= n {
                    self.want(&[(release, n)], &[(release, 100)]);
                    self.begin(format!("all traffic to release {release}"), now);
                    self.verify(now);
                }
            }
            Phase::Verifying { since } => {
                let keep_old_ms = match self.strategy {
                    StrategySpec::BlueGreen { keep_old_ms } if self.previous.is_some() => keep_old_ms,
                    _ => 0,
                };
                let old_kept = self.wanted.iter().any(|wanted| wanted.release != release);
                if old_kept && elapsed(since, now, keep_old_ms) {
                    self.want(&[(release, n)], &[(release, 100)]);
                    if let Some(old) = self.previous {
                        self.begin(format!("stop release {old}, kept {}", format_duration(keep_old_ms)), now);
                    }
                }
                if elapsed(since, now, self.verify_ms.max(keep_old_ms)) {
                    self.phase = Phase::Done;
                    self.outcome = Some((
                        DeploymentOutcome::Succeeded,
                        format!("release {release} serves all traffic on {}", plural(n, "healthy replica")),
                    ));
                }
            }
            Phase::Restoring { .. } | Phase::Done => {}
        }
    }

    /// Rolling: starts a new replica when there is room under `N + max_surge`, and lets an old
    /// one go when `N - max_unavailable` would still be healthy without it.
    fn roll(&mut self, counts: &Counts, now: i64) {
        let StrategySpec::Rolling { max_surge, max_unavailable } = self.strategy else { return };
        let (n, release) = (self.replicas, self.release);
        let Some(old) = self.previous else { return };
        // Both 0 could never replace a replica (the file refuses it); surge by one then.
        let max_surge = if max_surge == 0 && max_unavailable == 0 { 1 } else { max_surge };
        // Old replicas stay while the healthy ones without them would be too few.
        let old_want = n.saturating_sub(max_unavailable).saturating_sub(counts.new_healthy).min(counts.old_total);
        // New ones start while every replica that still runs (draining ones too) leaves room
        // under the surge; the plan never asks for fewer new ones than before.
        let new_want = n.saturating_add(max_surge).saturating_sub(counts.old_total).min(n).max(self.count_of(release));
        self.want(&[(old, old_want), (release, new_want)], &[]);
        if counts.new_healthy > self.healthy_seen {
            self.healthy_seen = counts.new_healthy.min(n);
            self.begin(format!("release {release} healthy on {} of {n}", self.healthy_seen), now);
        }
        if counts.new_healthy >= n && counts.old_total == 0 {
            self.want(&[(release, n)], &[]);
            self.verify(now);
        }
    }

    fn canary(&mut self, counts: &Counts, step: usize, since: Option<i64>, now: i64) {
        let StrategySpec::Canary { steps } = &self.strategy else { return };
        let (n, release) = (self.replicas, self.release);
        let Some(old) = self.previous else { return };
        let Some(current) = steps.get(step).cloned() else { return };
        let next = steps.get(step + 1).cloned();
        match since {
            None => {
                if counts.new_healthy >= canary_count(n, current.weight) {
                    let weight = current.weight.min(100);
                    self.weights = weights(&[(old, 100 - weight), (release, weight)]);
                    self.phase = Phase::Canary { step, since: Some(now) };
                    self.step_tallies = counts.tallies.clone();
                    let until = if self.queries().is_empty() {
                        String::new()
                    } else {
                        " and a successful measurement of each query".to_owned()
                    };
                    self.begin(
                        format!(
                            "weight {weight} % to release {release} for {}{until}",
                            format_duration(current.pause_ms)
                        ),
                        now,
                    );
                }
            }
            Some(since)
                if elapsed(since, now, current.pause_ms)
                    && queries::passed_since(self.queries(), &self.step_tallies, &counts.tallies) =>
            {
                match next {
                    Some(next) => {
                        self.phase = Phase::Canary { step: step + 1, since: None };
                        let count = canary_count(n, next.weight);
                        self.wanted = counts_of(&[(old, n), (release, count.max(self.count_of(release)))]);
                        // Stepping again at once gives the next weight when its replicas are up.
                        self.canary(counts, step + 1, None, now);
                    }
                    None => {
                        self.phase = Phase::Promoting;
                        self.wanted = counts_of(&[(old, n), (release, n)]);
                        self.begin(format!("start the rest of release {release} ({})", plural(n, "replica")), now);
                        self.advance(counts, now);
                    }
                }
            }
            Some(_) => {}
        }
    }

    fn verify(&mut self, now: i64) {
        self.phase = Phase::Verifying { since: now };
        let keep_old_ms = match self.strategy {
            StrategySpec::BlueGreen { keep_old_ms } if self.previous.is_some() => keep_old_ms,
            _ => 0,
        };
        self.begin(
            format!("verify release {} for {}", self.release, format_duration(self.verify_ms.max(keep_old_ms))),
            now,
        );
    }

    /// `analysis.queries`, which the server measures.
    fn queries(&self) -> &[AnalysisQuery] {
        self.analysis.as_ref().map_or(&[], |analysis| analysis.queries.as_slice())
    }

    fn want(&mut self, counts: &[(i64, u32)], shares: &[(i64, u32)]) {
        self.wanted = counts_of(counts);
        self.weights = weights(shares);
    }

    fn count_of(&self, release: i64) -> u32 {
        self.wanted.iter().find(|wanted| wanted.release == release).map_or(0, |wanted| wanted.count)
    }

    fn begin(&mut self, name: String, now: i64) {
        self.steps.push(DeploymentStep { name, at: now });
    }
}

/// New replicas for a canary step of `weight` % out of `n`: at least one.
fn canary_count(n: u32, weight: u32) -> u32 {
    (u64::from(n) * u64::from(weight.min(100))).div_ceil(100).max(1) as u32
}

fn counts_of(counts: &[(i64, u32)]) -> Vec<ReleaseCount> {
    counts.iter().filter(|(_, count)| *count > 0).map(|&(release, count)| ReleaseCount { release, count }).collect()
}

fn weights(shares: &[(i64, u32)]) -> Vec<ReleaseWeight> {
    shares
        .iter()
        .filter(|(_, weight)| *weight > 0)
        .map(|&(release, weight)| ReleaseWeight { release, weight })
        .collect()
}

fn elapsed(since: i64, now: i64, ms: u64) -> bool {
    now.saturating_sub(since) >= i64::try_from(ms).unwrap_or(i64::MAX)
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests;
