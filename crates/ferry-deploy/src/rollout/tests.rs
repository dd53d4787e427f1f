//! Replays of the rollout machine: a small world stands in for the agent's host (replicas
//! become healthy some seconds after they start, or never, or fail their checks; requests
//! spread by the plan's weights, some of them failing), steps the machine once a second,
//! applies each plan, and writes down what changed. Each test reads as the trace of one
//! deployment; the zero-downtime tests check every second of it.

use std::collections::BTreeMap;

use ferry_proto::agent::{
    AnalysisQuery, AnalysisSpec, AnalysisVerdict, CanaryStep, DeploymentOrder, DeploymentOutcome, HealthSpec, Probe,
    ProcessSpec, QueryTally, ReleaseSpec, ReleaseTraffic, ReplicaState, StrategySpec,
};

use super::*;
use crate::analysis::zero_traffic;

/// How a release behaves in the world.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Healthy `READY_MS` after it starts.
    Good,
    /// Fails its checks `READY_MS` after it starts.
    FailsChecks,
    /// Never answers its checks.
    NeverReady,
}

const READY_MS: i64 = 2_000;
const REQUESTS_PER_SECOND: u64 = 100;

struct World {
    replicas: Vec<ObservedReplica>,
    behaviour: BTreeMap<i64, Behaviour>,
    /// Percent of a release's requests that fail.
    error_percent: BTreeMap<i64, u64>,
    traffic: BTreeMap<i64, ReleaseTraffic>,
    next_id: u32,
    /// The fewest healthy replicas taking traffic seen after any plan was applied.
    min_serving: u32,
    /// The server's verdicts on `analysis.queries`, each from its time (ms) on.
    verdicts: Vec<(i64, AnalysisVerdict)>,
    verdict: Option<AnalysisVerdict>,
}

impl World {
    /// `n` healthy replicas of `release` serving already (none when `release` is `None`).
    fn new(release: Option<i64>, n: u32) -> World {
        let mut world = World {
            replicas: Vec::new(),
            behaviour: BTreeMap::new(),
            error_percent: BTreeMap::new(),
            traffic: BTreeMap::new(),
            next_id: 0,
            min_serving: u32::MAX,
            verdicts: Vec::new(),
            verdict: None,
        };
        if let Some(release) = release {
            for _ in 0..n {
                world.start(release, -60_000);
            }
            for replica in &mut world.replicas {
                replica.state = ReplicaState::Healthy;
            }
        }
        world
    }

    fn start(&mut self, release: i64, now: i64) {
        self.next_id += 1;
        self.replicas.push(ObservedReplica {
            id: format!("web-{release}-{}", self.next_id),
            release,
            state: ReplicaState::Starting,
            started_at: now,
            message: None,
        });
    }

    fn observe(&self) -> Observation {
        Observation {
            replicas: self.replicas.clone(),
            traffic: self.traffic.values().cloned().collect(),
            verdict: self.verdict.clone(),
        }
    }

    /// A second passes: replicas pass or fail their checks, and requests are served by the
    /// plan's weights (equally by healthy replica when it has none).
    fn tick(&mut self, now: i64, plan: &Plan) {
        if let Some((_, verdict)) = self.verdicts.iter().rev().find(|(at, _)| *at <= now) {
            self.verdict = Some(verdict.clone());
        }
        for replica in &mut self.replicas {
            if replica.state == ReplicaState::Starting && now - replica.started_at >= READY_MS {
                match self.behaviour.get(&replica.release).copied().unwrap_or(Behaviour::Good) {
                    Behaviour::Good => replica.state = ReplicaState::Healthy,
                    Behaviour::FailsChecks => {
                        replica.state = ReplicaState::Unhealthy;
                        replica.message = Some("GET /healthz answered 500".to_owned());
                    }
                    Behaviour::NeverReady => {}
                }
            }
        }
        let healthy = |release: i64| {
            self.replicas.iter().filter(|r| r.release == release && r.state == ReplicaState::Healthy).count() as u64
        };
        let all_healthy: u64 = self.replicas.iter().filter(|r| r.state == ReplicaState::Healthy).count() as u64;
        let mut shares: Vec<(i64, u64)> = Vec::new();
        if plan.weights.is_empty() {
            let releases: std::collections::BTreeSet<i64> = self.replicas.iter().map(|r| r.release).collect();
            for release in releases {
                if let Some(requests) = (REQUESTS_PER_SECOND * healthy(release)).checked_div(all_healthy) {
                    shares.push((release, requests));
                }
            }
        } else {
            for weight in &plan.weights {
                if healthy(weight.release) > 0 {
                    shares.push((weight.release, REQUESTS_PER_SECOND * u64::from(weight.weight) / 100));
                }
            }
        }
        for (release, requests) in shares {
            let traffic = self.traffic.entry(release).or_insert_with(|| zero_traffic(release));
            traffic.requests += requests;
            traffic.errors += requests * self.error_percent.get(&release).copied().unwrap_or(0) / 100;
            traffic.latency_buckets[3] += requests;
        }
    }

    /// Starts and stops replicas to match the plan: unhealthy ones go first, then the oldest.
    fn apply(&mut self, plan: &Plan, now: i64) {
        let releases: Vec<i64> = self.replicas.iter().map(|r| r.release).collect();
        for release in releases {
            if !plan.replicas.iter().any(|wanted| wanted.release == release) {
                self.replicas.retain(|r| r.release != release);
            }
        }
        for wanted in &plan.replicas {
            let have = self.replicas.iter().filter(|r| r.release == wanted.release).count() as u32;
            for _ in have..wanted.count {
                self.start(wanted.release, now);
            }
            for _ in wanted.count..have {
                let victim = self
                    .replicas
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.release == wanted.release)
                    .min_by_key(|(_, r)| (r.state == ReplicaState::Healthy, r.started_at))
                    .map(|(idx, _)| idx);
                if let Some(idx) = victim {
                    self.replicas.remove(idx);
                }
            }
        }
        let serving = self
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Healthy)
            .filter(|r| plan.weights.is_empty() || plan.weights.iter().any(|w| w.release == r.release && w.weight > 0))
            .count() as u32;
        self.min_serving = self.min_serving.min(serving);
    }
}

fn health() -> HealthSpec {
    HealthSpec {
        probe: Probe::Http { path: "/healthz".to_owned() },
        interval_ms: 1_000,
        timeout_ms: 1_000,
        healthy_after: 2,
        unhealthy_after: 3,
        start_timeout_ms: 5_000,
    }
}

fn order(release: i64, strategy: StrategySpec, analysis: Option<AnalysisSpec>, is_rollback: bool) -> DeploymentOrder {
    DeploymentOrder {
        id: 1,
        release: ReleaseSpec {
            number: release,
            files: Vec::new(),
            process: ProcessSpec::Run { command: "python3 server.py".to_owned() },
            env: BTreeMap::new(),
            secret_keys: Vec::new(),
        },
        strategy,
        analysis,
        verify_ms: 3_000,
        cancel: None,
        is_rollback,
        verdict: None,
    }
}

/// Runs a deployment to its end (at most two minutes), one step a second, and returns the
/// trace: each second whose plan changed, with the steps begun then, and the outcome.
fn replay(world: &mut World, order: &DeploymentOrder, current: Option<i64>, n: u32) -> (String, Rollout) {
    let mut rollout = Rollout::start(order, current, n, &health(), 0);
    let mut lines = Vec::new();
    let mut shown = (Vec::new(), Vec::new());
    let mut n_steps = 0;
    let mut told = false;
    let mut plan = rollout.plan();
    for second in 0..120 {
        let now = second * 1_000;
        world.tick(now, &plan);
        plan = rollout.step(&world.observe(), now);
        if (plan.replicas.clone(), plan.weights.clone()) != shown {
            shown = (plan.replicas.clone(), plan.weights.clone());
            lines.push(format!("{second:>3}s {}", render(&plan)));
        }
        for step in &plan.steps[n_steps..] {
            lines.push(format!("     · {} ({}s)", step.name, step.at / 1_000));
        }
        n_steps = plan.steps.len();
        world.apply(&plan, now);
        if let Some((outcome, reason)) = &plan.outcome
            && !told
        {
            lines.push(format!("{second:>3}s {outcome:?}: {reason}"));
            told = true;
        }
        if plan.settled {
            break;
        }
    }
    (lines.join("\n"), rollout)
}

/// `6×2 7×1 | 6:80 7:20`.
fn render(plan: &Plan) -> String {
    let replicas: Vec<String> =
        plan.replicas.iter().map(|wanted| format!("{}×{}", wanted.release, wanted.count)).collect();
    let weights: Vec<String> =
        plan.weights.iter().map(|weight| format!("{}:{}", weight.release, weight.weight)).collect();
    let weights = if weights.is_empty() { "by replica".to_owned() } else { weights.join(" ") };
    format!("{} | {weights}", if replicas.is_empty() { "none".to_owned() } else { replicas.join(" ") })
}

fn canary(steps: &[(u32, u64)]) -> StrategySpec {
    StrategySpec::Canary { steps: steps.iter().map(|&(weight, pause_ms)| CanaryStep { weight, pause_ms }).collect() }
}

fn error_analysis() -> Option<AnalysisSpec> {
    Some(AnalysisSpec {
        max_error_rate: Some(0.05),
        max_p99_latency_ms: Some(500.0),
        min_requests: 20,
        queries: Vec::new(),
    })
}

fn assert_trace(actual: &str, expected: &str) {
    assert_eq!(actual, expected.trim_matches('\n'), "\n--- actual ---\n{actual}\n");
}

#[test]
fn a_first_deployment_starts_every_replica_and_verifies() {
    let mut world = World::new(None, 0);
    let (trace, rollout) = replay(&mut world, &order(1, canary(&[(20, 5_000)]), None, false), None, 2);
    assert_trace(
        &trace,
        "
  0s 1×2 | 1:100
     · start 2 replicas of release 1 (0s)
     · release 1 healthy on 2 replicas (2s)
     · verify release 1 for 3s (2s)
  5s Succeeded: release 1 serves all traffic on 2 healthy replicas
",
    );
    assert_eq!(rollout.progress().outcome, Some(DeploymentOutcome::Succeeded));
}

#[test]
fn recreate_stops_the_old_replicas_then_starts_the_new() {
    let mut world = World::new(Some(6), 2);
    let (trace, _) = replay(&mut world, &order(7, StrategySpec::Recreate, None, false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s none | 7:100
     · stop the replicas of release 6 (0s)
  1s 7×2 | 7:100
     · start 2 replicas of release 7 (1s)
     · release 7 healthy on 2 replicas (3s)
     · verify release 7 for 3s (3s)
  6s Succeeded: release 7 serves all traffic on 2 healthy replicas
",
    );
}

#[test]
fn rolling_replaces_one_at_a_time_and_never_serves_with_fewer_than_it_may() {
    let mut world = World::new(Some(6), 3);
    let strategy = StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 };
    let (trace, _) = replay(&mut world, &order(7, strategy, None, false), Some(6), 3);
    assert_trace(
        &trace,
        "
  0s 6×3 7×1 | by replica
     · replace release 6 with release 7 (max surge 1, max unavailable 0) (0s)
  2s 6×2 7×1 | by replica
     · release 7 healthy on 1 of 3 (2s)
  3s 6×2 7×2 | by replica
  5s 6×1 7×2 | by replica
     · release 7 healthy on 2 of 3 (5s)
  6s 6×1 7×3 | by replica
  8s 7×3 | by replica
     · release 7 healthy on 3 of 3 (8s)
     · verify release 7 for 3s (9s)
 12s Succeeded: release 7 serves all traffic on 3 healthy replicas
",
    );
    assert_eq!(world.min_serving, 3, "max-unavailable 0: never fewer than 3 healthy replicas serve");
}

#[test]
fn rolling_with_unavailable_replicas_goes_faster_and_keeps_the_rest_serving() {
    for (n, max_surge, max_unavailable) in [(4, 0, 2), (4, 2, 1), (5, 1, 1), (2, 0, 1), (1, 1, 0)] {
        let mut world = World::new(Some(6), n);
        let strategy = StrategySpec::Rolling { max_surge, max_unavailable };
        let (trace, _) = replay(&mut world, &order(7, strategy, None, false), Some(6), n);
        assert!(
            trace.ends_with(&format!("Succeeded: release 7 serves all traffic on {}", plural(n, "healthy replica"))),
            "{trace}"
        );
        assert!(
            world.min_serving >= n - max_unavailable,
            "n {n}, surge {max_surge}, unavailable {max_unavailable}: {} serving\n{trace}",
            world.min_serving
        );
        assert!(world.replicas.iter().all(|replica| replica.release == 7));
    }
}

#[test]
fn blue_green_switches_when_the_whole_new_set_is_healthy_and_keeps_the_old_one() {
    let mut world = World::new(Some(6), 2);
    let (trace, _) =
        replay(&mut world, &order(7, StrategySpec::BlueGreen { keep_old_ms: 5_000 }, None, false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×2 | 6:100
     · start 2 replicas of release 7 beside release 6 (0s)
  2s 6×2 7×2 | 7:100
     · switch all traffic from release 6 to release 7 (2s)
     · verify release 7 for 5s (2s)
  7s 7×2 | 7:100
     · stop release 6, kept 5s (7s)
  7s Succeeded: release 7 serves all traffic on 2 healthy replicas
",
    );
    assert_eq!(world.min_serving, 2, "the new set takes traffic only once it is all healthy");
}

#[test]
fn canary_gives_each_weight_for_its_pause_then_the_rest() {
    let mut world = World::new(Some(6), 2);
    let strategy = canary(&[(20, 3_000), (50, 2_000)]);
    let (trace, rollout) = replay(&mut world, &order(7, strategy, error_analysis(), false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×1 | 6:100
     · start 1 replica of release 7 for the canary (0s)
  2s 6×2 7×1 | 6:80 7:20
     · weight 20 % to release 7 for 3s (2s)
  5s 6×2 7×1 | 6:50 7:50
     · weight 50 % to release 7 for 2s (5s)
  7s 6×2 7×2 | 6:50 7:50
     · start the rest of release 7 (2 replicas) (7s)
  9s 7×2 | 7:100
     · all traffic to release 7 (9s)
     · verify release 7 for 3s (9s)
 12s Succeeded: release 7 serves all traffic on 2 healthy replicas
",
    );
    assert_eq!(world.min_serving, 2, "the old set serves until the new one takes everything");
    let figures = rollout.progress().analysis.expect("figures");
    assert_eq!((figures.errors, figures.error_rate, figures.p99_latency_ms), (0, 0.0, Some(5.0)));
    assert!(figures.requests > 20, "{figures:?}");
}

#[test]
fn a_replica_failing_its_checks_rolls_the_canary_back() {
    let mut world = World::new(Some(6), 2);
    world.behaviour.insert(7, Behaviour::FailsChecks);
    let (trace, rollout) = replay(&mut world, &order(7, canary(&[(20, 3_000)]), None, false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×1 | 6:100
     · start 1 replica of release 7 for the canary (0s)
  2s 6×2 | 6:100
     · roll back to release 6 (2s)
  2s RolledBack: replica web-7-3 of release 7 failed its health check: GET /healthz answered 500
",
    );
    assert_eq!(world.min_serving, 2);
    let progress = rollout.progress();
    assert_eq!(progress.outcome, Some(DeploymentOutcome::RolledBack));
    assert!(world.replicas.iter().all(|replica| replica.release == 6));
}

#[test]
fn an_error_rate_breach_rolls_back_with_the_figures_in_words() {
    let mut world = World::new(Some(6), 2);
    world.error_percent.insert(7, 30);
    let (trace, rollout) = replay(&mut world, &order(7, canary(&[(20, 60_000)]), error_analysis(), false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×1 | 6:100
     · start 1 replica of release 7 for the canary (0s)
  2s 6×2 7×1 | 6:80 7:20
     · weight 20 % to release 7 for 1m (2s)
  3s 6×2 | 6:100
     · roll back to release 6 (3s)
  3s RolledBack: error rate 0.30 > 0.05 over 20 requests of release 7
",
    );
    let figures = rollout.progress().analysis.expect("figures");
    assert_eq!((figures.requests, figures.errors), (20, 6));
}

#[test]
fn a_breach_during_verification_still_rolls_back() {
    let mut world = World::new(Some(6), 1);
    world.error_percent.insert(7, 10);
    let strategy = StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 };
    let analysis = Some(AnalysisSpec {
        max_error_rate: Some(0.05),
        max_p99_latency_ms: None,
        min_requests: 250,
        queries: Vec::new(),
    });
    let (trace, _) = replay(&mut world, &order(7, strategy, analysis, false), Some(6), 1);
    assert_trace(
        &trace,
        "
  0s 6×1 7×1 | by replica
     · replace release 6 with release 7 (max surge 1, max unavailable 0) (0s)
  2s 7×1 | by replica
     · release 7 healthy on 1 of 1 (2s)
     · verify release 7 for 3s (3s)
  4s 6×1 7×1 | by replica
     · roll back to release 6 (4s)
  4s RolledBack: error rate 0.10 > 0.05 over 250 requests of release 7
  6s 6×1 | 6:100
",
    );
    assert_eq!(world.min_serving, 1, "release 7 serves until release 6 is back: never nothing");
}

#[test]
fn a_replica_not_healthy_in_time_fails_the_deployment() {
    let mut world = World::new(Some(6), 1);
    world.behaviour.insert(7, Behaviour::NeverReady);
    let (trace, _) = replay(&mut world, &order(7, StrategySpec::BlueGreen { keep_old_ms: 0 }, None, false), Some(6), 1);
    assert_trace(
        &trace,
        "
  0s 6×1 7×1 | 6:100
     · start 1 replica of release 7 beside release 6 (0s)
  6s 6×1 | 6:100
     · roll back to release 6 (6s)
  6s RolledBack: replica web-7-2 of release 7 was not healthy 5s after it started
",
    );
}

#[test]
fn a_rollback_that_fails_is_not_rolled_back_again() {
    let mut world = World::new(Some(7), 1);
    world.behaviour.insert(6, Behaviour::FailsChecks);
    let (trace, rollout) = replay(&mut world, &order(6, StrategySpec::Recreate, None, true), Some(7), 1);
    assert!(
        trace.contains("Failed: replica web-6-2 of release 6 failed its health check: GET /healthz answered 500; a rollback is not rolled back, release 7 serves again"),
        "{trace}"
    );
    assert!(trace.ends_with("  5s 7×1 | 7:100"), "release 7 takes the traffic back once healthy again\n{trace}");
    assert_eq!(rollout.plan().replicas, [ReleaseCount { release: 7, count: 1 }]);
}

#[test]
fn a_failed_first_deployment_stops_and_fails() {
    let mut world = World::new(None, 0);
    world.behaviour.insert(1, Behaviour::FailsChecks);
    let (trace, rollout) = replay(&mut world, &order(1, StrategySpec::Recreate, None, false), None, 1);
    assert!(trace.ends_with("there is no earlier release to roll back to"), "{trace}");
    assert_eq!(rollout.progress().outcome, Some(DeploymentOutcome::Failed));
    assert!(rollout.plan().replicas.is_empty());
}

#[test]
fn requests_before_the_deployment_are_not_judged() {
    let mut world = World::new(Some(6), 1);
    // Release 7 served before (it was rolled back from) with many errors.
    let mut old = zero_traffic(7);
    old.requests = 1_000;
    old.errors = 900;
    world.traffic.insert(7, old);
    let (trace, _) = replay(&mut world, &order(7, StrategySpec::Recreate, error_analysis(), false), Some(6), 1);
    assert!(trace.ends_with("Succeeded: release 7 serves all traffic on 1 healthy replica"), "{trace}");
}

#[test]
fn a_rollout_kept_on_disk_goes_on_where_it_was() {
    let strategy = canary(&[(20, 3_000), (50, 2_000)]);
    let order = order(7, strategy, error_analysis(), false);
    let mut world = World::new(Some(6), 2);
    let (straight, _) = replay(&mut world, &order, Some(6), 2);
    // The same deployment, with the rollout written out and read back every second.
    let mut world = World::new(Some(6), 2);
    let mut rollout = Rollout::start(&order, Some(6), 2, &health(), 0);
    let mut plan = rollout.plan();
    let mut outcome = None;
    for second in 0..120 {
        let now = second * 1_000;
        world.tick(now, &plan);
        let text = serde_json::to_string(&rollout).expect("serialise");
        rollout = serde_json::from_str(&text).expect("deserialise");
        plan = rollout.step(&world.observe(), now);
        assert_eq!(rollout.step(&world.observe(), now), plan, "stepping twice changes nothing");
        world.apply(&plan, now);
        if plan.outcome.is_some() {
            outcome = Some(second);
            break;
        }
    }
    assert_eq!(outcome, Some(12));
    assert!(straight.ends_with(" 12s Succeeded: release 7 serves all traffic on 2 healthy replicas"));
    let names: Vec<&str> = plan.steps.iter().map(|step| step.name.as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
}

#[test]
fn a_cancelled_deployment_gives_the_traffic_back_and_stays_cancelled() {
    let mut world = World::new(Some(6), 2);
    let order = order(7, canary(&[(20, 60_000)]), None, false);
    let mut rollout = Rollout::start(&order, Some(6), 2, &health(), 0);
    for second in 0..4 {
        world.tick(second * 1_000, &rollout.plan());
        let plan = rollout.step(&world.observe(), second * 1_000);
        world.apply(&plan, second * 1_000);
    }
    assert_eq!(render(&rollout.plan()), "6×2 7×1 | 6:80 7:20");
    let plan = rollout.cancel("superseded by deployment 2", 4_000);
    assert_eq!((render(&plan).as_str(), plan.settled), ("6×2 7×1 | by replica", false));
    assert_eq!(plan.outcome, Some((DeploymentOutcome::Cancelled, "superseded by deployment 2".to_owned())));
    let plan = rollout.step(&world.observe(), 5_000);
    assert_eq!(
        (render(&plan).as_str(), plan.settled),
        ("6×2 | 6:100", true),
        "release 6 is healthy: it takes everything"
    );
    assert_eq!(rollout.step(&world.observe(), 6_000), plan, "over is over");
    assert_eq!(rollout.cancel("again", 7_000), plan);
}

#[test]
fn a_deployment_that_succeeded_here_is_reverted_without_downtime_when_another_host_failed() {
    let mut world = World::new(Some(6), 2);
    let rolling = StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 };
    let (trace, mut rollout) = replay(&mut world, &order(7, rolling, None, false), Some(6), 2);
    assert!(trace.ends_with("Succeeded: release 7 serves all traffic on 2 healthy replicas"), "{trace}");
    assert_eq!(render(&rollout.plan()), "7×2 | by replica");
    world.min_serving = u32::MAX;

    let plan = rollout.revert("on agent two: replica failed its health check; rolling back every host", 100_000);
    assert_eq!((render(&plan).as_str(), plan.settled), ("6×2 7×2 | by replica", false));
    assert_eq!(plan.steps.last().map(|step| step.name.as_str()), Some("revert: release 6 serves again"));
    assert_eq!(rollout.progress().outcome, Some(DeploymentOutcome::Cancelled));
    let mut plan = plan;
    for second in 100..110 {
        world.apply(&plan, second * 1_000);
        world.tick(second * 1_000, &plan);
        plan = rollout.step(&world.observe(), second * 1_000);
    }
    world.apply(&plan, 110_000);
    assert_eq!((render(&plan).as_str(), plan.settled), ("6×2 | 6:100", true));
    assert!(world.min_serving >= 2, "release 7 serves until release 6 is back: {}", world.min_serving);
    assert_eq!(rollout.revert("again", 111_000), plan, "a reverted deployment stays reverted");
    assert_eq!(
        rollout.progress().reason.as_deref(),
        Some("on agent two: replica failed its health check; rolling back every host")
    );
}

#[test]
fn a_first_deployment_reverted_stops_its_release() {
    let mut world = World::new(None, 0);
    let (_, mut rollout) = replay(&mut world, &order(1, canary(&[(20, 5_000)]), None, false), None, 2);
    let plan = rollout.revert("failed on another host", 10_000);
    assert_eq!((render(&plan).as_str(), plan.settled), ("none | by replica", true));
    assert_eq!(plan.outcome, Some((DeploymentOutcome::Cancelled, "failed on another host".to_owned())));
}

#[test]
fn arbitrary_observations_never_panic_and_an_outcome_never_changes_nor_a_settled_plan() {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let strategies = [
        StrategySpec::Recreate,
        StrategySpec::Rolling { max_surge: u32::MAX, max_unavailable: u32::MAX },
        StrategySpec::Rolling { max_surge: 0, max_unavailable: 0 },
        StrategySpec::BlueGreen { keep_old_ms: u64::MAX },
        canary(&[(0, 0), (100, u64::MAX), (500, 1)]),
        canary(&[]),
    ];
    let states = [
        ReplicaState::Starting,
        ReplicaState::Healthy,
        ReplicaState::Unhealthy,
        ReplicaState::Draining,
        ReplicaState::Exited,
    ];
    for round in 0..300 {
        let strategy = strategies[round % strategies.len()].clone();
        let analysis = Some(AnalysisSpec {
            max_error_rate: Some(0.0),
            max_p99_latency_ms: Some(0.0),
            min_requests: 0,
            queries: Vec::new(),
        });
        let current = [None, Some(6), Some(7)][round % 3];
        let mut rollout =
            Rollout::start(&order(7, strategy, analysis, round % 2 == 0), current, (round % 4) as u32, &health(), 0);
        let mut outcome = None;
        let mut settled: Option<Plan> = None;
        for tick in 0..20 {
            let now = [i64::MIN, -1, tick * 700, i64::MAX][(next() % 4) as usize];
            let replicas = (0..next() % 6)
                .map(|idx| ObservedReplica {
                    id: format!("r{idx}"),
                    release: 5 + (next() % 3) as i64,
                    state: states[(next() % 5) as usize],
                    started_at: [i64::MIN, 0, i64::MAX][(next() % 3) as usize],
                    message: None,
                })
                .collect();
            let mut traffic = zero_traffic(7);
            traffic.requests = next() % 3;
            traffic.errors = next() % 3;
            traffic.latency_buckets = (0..(next() % 20)).map(|_| next() % 5).collect();
            let plan = rollout.step(&Observation { replicas, traffic: vec![traffic], verdict: None }, now);
            assert!(plan.weights.iter().map(|weight| weight.weight).sum::<u32>() <= 100, "{plan:?}");
            if let Some(settled) = &settled {
                assert_eq!(&plan, settled);
            } else if plan.settled {
                settled = Some(plan.clone());
            }
            if outcome.is_some() {
                assert_eq!(plan.outcome, outcome, "an outcome never changes");
            }
            outcome = plan.outcome.clone();
        }
    }
}

/// An analysis of one query, `error-ratio`, which the server measures.
fn query_analysis() -> Option<AnalysisSpec> {
    let query = AnalysisQuery {
        name: "error-ratio".to_owned(),
        query: "ratio{release=\"{{release}}\"}".to_owned(),
        interval_ms: 1_000,
        success: Some("result < 0.01".to_owned()),
        failure: Some("result >= 0.05".to_owned()),
        failure_limit: 1,
        inconclusive_limit: 0,
        count: 0,
    };
    Some(AnalysisSpec { max_error_rate: None, max_p99_latency_ms: None, min_requests: 20, queries: vec![query] })
}

fn tallied(successes: u32, failure: Option<&str>) -> AnalysisVerdict {
    AnalysisVerdict {
        queries: vec![QueryTally { name: "error-ratio".to_owned(), successes, done: false }],
        failure: failure.map(str::to_owned),
    }
}

#[test]
fn a_failed_query_verdict_rolls_the_canary_back_with_its_reason() {
    let mut world = World::new(Some(6), 2);
    let reason = "query error-ratio: 0.12 >= 0.05 (measurement 2; 2 failed, failure-limit 1)";
    world.verdicts = vec![(3_000, tallied(0, None)), (6_000, tallied(0, Some(reason)))];
    let strategy = canary(&[(20, 60_000)]);
    let (trace, rollout) = replay(&mut world, &order(7, strategy, query_analysis(), false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×1 | 6:100
     · start 1 replica of release 7 for the canary (0s)
  2s 6×2 7×1 | 6:80 7:20
     · weight 20 % to release 7 for 1m and a successful measurement of each query (2s)
  6s 6×2 | 6:100
     · roll back to release 6 (6s)
  6s RolledBack: query error-ratio: 0.12 >= 0.05 (measurement 2; 2 failed, failure-limit 1)
",
    );
    assert_eq!(rollout.progress().reason.as_deref(), Some(reason));
    assert_eq!(world.min_serving, 2, "release 6 serves throughout");
}

#[test]
fn a_canary_step_waits_for_a_successful_measurement_of_each_query() {
    let mut world = World::new(Some(6), 2);
    // One success while the first step pauses; the second step's pause is over at 7s, but
    // its success comes at 9s.
    world.verdicts = vec![(3_000, tallied(1, None)), (4_000, tallied(2, None)), (9_000, tallied(3, None))];
    let strategy = canary(&[(20, 3_000), (50, 2_000)]);
    let (trace, _) = replay(&mut world, &order(7, strategy, query_analysis(), false), Some(6), 2);
    assert_trace(
        &trace,
        "
  0s 6×2 7×1 | 6:100
     · start 1 replica of release 7 for the canary (0s)
  2s 6×2 7×1 | 6:80 7:20
     · weight 20 % to release 7 for 3s and a successful measurement of each query (2s)
  5s 6×2 7×1 | 6:50 7:50
     · weight 50 % to release 7 for 2s and a successful measurement of each query (5s)
  9s 6×2 7×2 | 6:50 7:50
     · start the rest of release 7 (2 replicas) (9s)
 11s 7×2 | 7:100
     · all traffic to release 7 (11s)
     · verify release 7 for 3s (11s)
 14s Succeeded: release 7 serves all traffic on 2 healthy replicas
",
    );
}
