//! One unit (a service in an environment) as the supervisor runs it: its replicas, the
//! release serving it, the deployment under way, and the reconcile step that moves what runs
//! towards what the desired state says.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferry_client::Client;
use ferry_deploy::{Observation, ObservedReplica, Rollout};
use ferry_proto::agent::{
    AgentEvent, AgentEventKind, DeploymentOutcome, LogStream, ProcessSpec, ReleaseSpec, ReplicaState, ReplicaStatus,
    ServiceLogLine, Unit, UnitStatus,
};
use ferry_proxy::{Backend, Proxy, ProxyOptions, Routes};
use tokio::task::JoinHandle;

use super::replica::{self, Launch, Replica};
use super::unit_name;
use crate::dir::{AgentDir, UnitRecord};
use crate::logs::{Tailer, mask};
use crate::now_ms;

/// How long a replica stays healthy before its crashes are forgotten (its backoff resets).
const HEALTHY_RESET: Duration = Duration::from_secs(60);
/// How long after a failed fetch of a release's files the agent tries again.
const FETCH_RETRY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct UnitRuntime {
    pub(crate) unit: Unit,
    pub(crate) replicas: Vec<Replica>,
    /// The release that serves all traffic when no deployment moves it.
    pub(crate) serving: Option<i64>,
    /// The number the next replica's id gets.
    pub(crate) next_replica: u32,
    /// The deployment under way (or over, until the server records it).
    pub(crate) rollout: Option<Rollout>,
    /// The releases that should run now, with their share of the traffic (empty: equal
    /// shares by replica).
    routed: Vec<i64>,
    weights: Vec<(i64, u32)>,
    /// Releases whose files are here.
    fetched: Vec<i64>,
    fetching: BTreeMap<i64, JoinHandle<Result<(), String>>>,
    /// When a release whose fetch failed is tried again.
    fetch_retry: BTreeMap<i64, Instant>,
    /// The last error event, not repeated while it holds.
    last_error: Option<String>,
    /// Output of replicas that stopped, read before they went.
    pending_lines: Vec<ServiceLogLine>,
    /// The unit's proxy and the address it listens on, once bound.
    proxy: Option<(Proxy, String)>,
    /// When binding the proxy is tried again after it failed.
    bind_retry: Option<Instant>,
    /// The routes last given to the proxy.
    routes: Routes,
    /// The options last given to the proxy (`None`: not yet).
    proxy_options: Option<ProxyOptions>,
}

impl UnitRuntime {
    pub(crate) fn new(unit: Unit, record: Option<&UnitRecord>) -> UnitRuntime {
        let serving = record.and_then(|record| record.serving).or(unit.release.as_ref().map(|release| release.number));
        // A deployment under way when the last agent stopped goes on where it was.
        let rollout = record
            .and_then(|record| record.deployment.clone())
            .filter(|rollout| unit.deployment.as_ref().is_some_and(|order| order.id == rollout.id));
        UnitRuntime {
            rollout,
            routed: Vec::new(),
            weights: Vec::new(),
            serving,
            next_replica: record.map_or(1, |record| record.next_replica.max(1)),
            unit,
            replicas: Vec::new(),
            fetched: Vec::new(),
            fetching: BTreeMap::new(),
            fetch_retry: BTreeMap::new(),
            last_error: None,
            pending_lines: Vec::new(),
            proxy: None,
            bind_retry: None,
            routes: Routes::default(),
            proxy_options: None,
        }
    }

    /// The unit's proxy, when it listens.
    pub(crate) fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref().map(|(proxy, _)| proxy)
    }

    /// Moves what runs one step towards the desired state; whether anything a report shows
    /// changed.
    pub(crate) async fn reconcile(
        &mut self,
        dir: &AgentDir,
        client: Option<&Client>,
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        let mut changed = self.watch_replicas(now, events);
        changed |= self.follow_order();
        changed |= self.bind_proxy(now, events).await;
        changed |= self.reconcile_replicas(dir, client, now, events).await;
        self.apply_routes();
        changed
    }

    /// Starts, restarts and stops replicas towards what is wanted.
    async fn reconcile_replicas(
        &mut self,
        dir: &AgentDir,
        client: Option<&Client>,
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        let mut changed = false;
        let (wanted, planned) = self.wanted_now();
        if let Some((number, image)) = wanted.iter().find_map(|(release, _)| match &release.process {
            ProcessSpec::Image { image, .. } => Some((release.number, image.clone())),
            ProcessSpec::Run { .. } => None,
        }) {
            let message = format!(
                "release {number} runs the image {image}: this agent has no container support yet; \
                 give the service `run:` instead of `image:`"
            );
            changed |= self.abort_rollout(&message);
            self.error(events, message);
            return changed;
        }
        let mut ready = Vec::new();
        for (release, count) in &wanted {
            if let Some(folder) = self.release_files(dir, client, release, now, events).await {
                ready.push((release.clone(), *count, folder));
            }
        }
        let numbers: Vec<i64> = wanted.iter().map(|(release, _)| release.number).collect();
        changed |= self.retire_unwanted(&numbers, planned, events);
        changed |= self.restart_due(dir, &ready, now, events);
        for (release, count, folder) in &ready {
            changed |= self.scale(dir, release, *count as usize, folder, events);
        }
        changed
    }

    /// The releases that should run with their counts, and whether a deployment planned them
    /// (else they are the unit's release, and any other replica is drift). Steps the rollout.
    fn wanted_now(&mut self) -> (Vec<(ReleaseSpec, u32)>, bool) {
        let order = self.unit.deployment.clone();
        let (Some(rollout), Some(order)) = (&mut self.rollout, order) else {
            self.weights.clear();
            let wanted: Vec<(ReleaseSpec, u32)> =
                self.unit.release.iter().map(|release| (release.clone(), self.unit.replicas)).collect();
            self.routed = wanted.iter().map(|(release, _)| release.number).collect();
            return (wanted, false);
        };
        let observation = Observation {
            replicas: self
                .replicas
                .iter()
                .map(|replica| ObservedReplica {
                    id: replica.id.clone(),
                    release: replica.release,
                    state: replica.state(),
                    started_at: replica.started_at,
                    message: replica.message(),
                })
                .collect(),
            traffic: self.proxy.as_ref().map(|(proxy, _)| proxy.traffic()).unwrap_or_default(),
        };
        let was_over = rollout.outcome.is_some();
        let plan = rollout.step(&observation, now_ms());
        if let (false, Some((outcome, reason))) = (was_over, &plan.outcome) {
            self.serving = match outcome {
                DeploymentOutcome::Succeeded => Some(rollout.release),
                _ => rollout.previous,
            };
            tracing::info!("{}: deployment {} {outcome:?}: {reason}", unit_name(&self.unit.key), rollout.id);
        }
        let spec_of = |number: i64| {
            if order.release.number == number {
                Some(order.release.clone())
            } else {
                self.unit.release.clone().filter(|release| release.number == number)
            }
        };
        let wanted: Vec<(ReleaseSpec, u32)> =
            plan.replicas.iter().filter_map(|count| spec_of(count.release).map(|spec| (spec, count.count))).collect();
        self.weights = plan.weights.iter().map(|weight| (weight.release, weight.weight)).collect();
        self.routed = wanted.iter().map(|(release, _)| release.number).collect();
        (wanted, true)
    }

    /// Ends the deployment under way for a reason the agent found (a port taken, files
    /// missing, a replica that cannot start): rolled back to the release that served, or
    /// failed when there is none or it was itself a rollback.
    fn abort_rollout(&mut self, reason: &str) -> bool {
        let Some(rollout) = &mut self.rollout else { return false };
        if rollout.outcome.is_some() {
            return false;
        }
        rollout.cancel(reason, now_ms());
        let outcome = match rollout.previous {
            Some(_) if !rollout.is_rollback => DeploymentOutcome::RolledBack,
            _ => DeploymentOutcome::Failed,
        };
        tracing::warn!("{}: deployment {} {outcome:?}: {reason}", unit_name(&self.unit.key), rollout.id);
        rollout.outcome = Some((outcome, reason.to_owned()));
        self.serving = rollout.previous;
        true
    }

    /// Binds the unit's proxy on its address, again when the address changed; a port that
    /// cannot be bound is an `error` event and fails the deployment under way.
    async fn bind_proxy(&mut self, now: Instant, events: &mut Vec<AgentEvent>) -> bool {
        let address = format!("{}:{}", self.unit.bind, self.unit.port);
        if self.proxy.as_ref().is_some_and(|(_, bound)| *bound == address) {
            return false;
        }
        if let Some((proxy, bound)) = self.proxy.take() {
            tracing::info!("{}: moving its proxy from {bound} to {address}", unit_name(&self.unit.key));
            tokio::spawn(proxy.shutdown());
        }
        if self.bind_retry.is_some_and(|at| now < at) {
            return false;
        }
        let bound = match address.parse::<std::net::SocketAddr>() {
            Ok(addr) => {
                Proxy::bind(addr).await.map_err(|error| format!("the proxy cannot listen on {address}: {error}"))
            }
            Err(_) => Err(format!("the proxy's address {address} is not an IP address and port")),
        };
        match bound {
            Ok(proxy) => {
                tracing::info!("{}: proxy listening on {address}", unit_name(&self.unit.key));
                self.proxy = Some((proxy, address));
                self.routes = Routes::default();
                self.proxy_options = None;
                self.bind_retry = None;
                true
            }
            Err(message) => {
                self.bind_retry = Some(now + FETCH_RETRY);
                self.abort_rollout(&message);
                self.error(events, message);
                true
            }
        }
    }

    /// Gives the proxy the healthy replicas of the releases that should run, weighted as the
    /// deployment under way says (a release with weight 0 takes no request).
    fn apply_routes(&mut self) {
        let Some((proxy, _)) = &self.proxy else { return };
        let options = ProxyOptions {
            response_timeout: Duration::from_millis(self.unit.response_timeout_ms.max(1)),
            // deploy.yml's checks let only IP addresses through.
            trusted_hops: self.unit.trusted_proxies.iter().filter_map(|address| address.parse().ok()).collect(),
        };
        if self.proxy_options.as_ref() != Some(&options) {
            proxy.set_options(options.clone());
            self.proxy_options = Some(options);
        }
        let takes_traffic = |release: i64| {
            self.routed.contains(&release)
                && (self.weights.is_empty() || self.weights.iter().any(|(r, weight)| *r == release && *weight > 0))
        };
        let backends = self
            .replicas
            .iter()
            .filter(|replica| replica.state() == ReplicaState::Healthy && takes_traffic(replica.release))
            .map(|replica| Backend {
                id: replica.id.clone(),
                release: replica.release,
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], replica.port)),
            })
            .collect();
        let routes = Routes { backends, weights: self.weights.clone() };
        if routes != self.routes {
            proxy.set_routes(routes.clone());
            self.routes = routes;
        }
    }

    /// Notices exits and health changes.
    fn watch_replicas(&mut self, now: Instant, events: &mut Vec<AgentEvent>) -> bool {
        let mut changed = false;
        let key = &self.unit.key;
        for replica in &mut self.replicas {
            if let Some(why) = replica.poll_exit() {
                replica.checks.abort();
                // Whatever it left behind in its group goes too, so the port is free again.
                if let Some(group) = rustix::process::Pid::from_raw(replica.pid.cast_signed()) {
                    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                }
                let delay = replica::backoff(replica.crashes_in_row);
                replica.crashes_in_row = replica.crashes_in_row.saturating_add(1);
                replica.restart_at = Some(now + delay);
                replica.healthy_since = None;
                let message = format!(
                    "replica {} of release {} {why}; restarting it in {} s",
                    replica.id,
                    replica.release,
                    delay.as_secs()
                );
                tracing::warn!("{}: {message}", unit_name(key));
                let short = why.strip_prefix("exited with ").unwrap_or(&why);
                replica.exit_message = Some(format!("{short}; restarting in {} s", delay.as_secs()));
                events.push(AgentEvent { key: key.clone(), at: now_ms(), kind: AgentEventKind::Crashed, message });
                changed = true;
            }
            let state = replica.state();
            if state == ReplicaState::Healthy {
                let since = *replica.healthy_since.get_or_insert(now);
                if now.duration_since(since) >= HEALTHY_RESET {
                    replica.crashes_in_row = 0;
                }
            } else {
                replica.healthy_since = None;
            }
            if state != replica.reported {
                let turned = match (replica.reported, state) {
                    (ReplicaState::Healthy, ReplicaState::Unhealthy) => Some("unhealthy"),
                    (ReplicaState::Unhealthy, ReplicaState::Healthy) => Some("healthy again"),
                    (ReplicaState::Starting, ReplicaState::Unhealthy) => Some("unhealthy before it ever passed"),
                    _ => None,
                };
                if let Some(turned) = turned {
                    let why = replica.message().map(|why| format!(": {why}")).unwrap_or_default();
                    let message = format!("replica {} of release {} is {turned}{why}", replica.id, replica.release);
                    tracing::info!("{}: {message}", unit_name(key));
                    events.push(AgentEvent { key: key.clone(), at: now_ms(), kind: AgentEventKind::Health, message });
                }
                replica.reported = state;
                changed = true;
            }
        }
        changed
    }

    /// Takes up a new deployment order, or lets go of one the server recorded or withdrew.
    fn follow_order(&mut self) -> bool {
        match (&self.unit.deployment, &self.rollout) {
            (Some(order), Some(rollout)) if rollout.id == order.id => false,
            (Some(order), _) => {
                tracing::info!(
                    "{}: deployment {} of release {} begins",
                    unit_name(&self.unit.key),
                    order.id,
                    order.release.number
                );
                self.rollout =
                    Some(Rollout::start(order, self.serving, self.unit.replicas, &self.unit.health, now_ms()));
                true
            }
            (None, Some(_)) => {
                self.rollout = None;
                true
            }
            (None, None) => false,
        }
    }

    /// The folder of the release's files once they are here; starts or follows their fetch.
    async fn release_files(
        &mut self,
        dir: &AgentDir,
        client: Option<&Client>,
        release: &ReleaseSpec,
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> Option<PathBuf> {
        let folder = dir.release_dir(&self.unit.key, release.number);
        if self.fetched.contains(&release.number) || folder.is_dir() {
            if !self.fetched.contains(&release.number) {
                self.fetched.push(release.number);
            }
            return Some(folder);
        }
        if let Some(fetch) = self.fetching.get(&release.number) {
            if !fetch.is_finished() {
                return None;
            }
            let fetch = self.fetching.remove(&release.number)?;
            match fetch.await {
                Ok(Ok(())) => {
                    self.fetched.push(release.number);
                    return Some(folder);
                }
                Ok(Err(error)) => {
                    self.fetch_retry.insert(release.number, now + FETCH_RETRY);
                    let message = format!("release {}: {error}", release.number);
                    self.abort_rollout(&message);
                    self.error(events, message);
                    return None;
                }
                Err(error) => {
                    self.fetch_retry.insert(release.number, now + FETCH_RETRY);
                    self.error(events, format!("fetching release {} stopped: {error}", release.number));
                    return None;
                }
            }
        }
        if self.fetch_retry.get(&release.number).is_some_and(|at| now < *at) {
            return None;
        }
        let client = client.cloned();
        let release = release.clone();
        self.fetching.insert(
            release.number,
            tokio::spawn(async move { crate::releases::ensure(&folder, &release, client.as_ref()).await }),
        );
        None
    }

    /// Stops replicas of releases not wanted: as planned by a deployment, or as drift (with a
    /// `drift` event).
    fn retire_unwanted(&mut self, wanted: &[i64], planned: bool, events: &mut Vec<AgentEvent>) -> bool {
        let unwanted: Vec<usize> =
            (0..self.replicas.len()).filter(|idx| !wanted.contains(&self.replicas[*idx].release)).collect();
        for &idx in unwanted.iter().rev() {
            if !planned {
                let replica = &self.replicas[idx];
                let wants = match wanted {
                    [] => "no release".to_owned(),
                    [one] => format!("release {one}"),
                    more => format!("releases {more:?}"),
                };
                let message = format!(
                    "replica {} runs release {}, the desired state wants {wants}: replacing it",
                    replica.id, replica.release
                );
                tracing::info!("{}: {message}", unit_name(&self.unit.key));
                events.push(AgentEvent {
                    key: self.unit.key.clone(),
                    at: now_ms(),
                    kind: AgentEventKind::Drift,
                    message,
                });
            }
            self.retire(idx);
        }
        !unwanted.is_empty()
    }

    /// Starts again the replicas whose backoff is over.
    fn restart_due(
        &mut self,
        dir: &AgentDir,
        ready: &[(ReleaseSpec, u32, PathBuf)],
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        let mut changed = false;
        let mut failures = Vec::new();
        for replica in &mut self.replicas {
            if replica.restart_at.is_none_or(|at| at > now) {
                continue;
            }
            let Some((spec, _, folder)) = ready.iter().find(|(release, _, _)| release.number == replica.release) else {
                continue;
            };
            match launch(dir, spec, folder, &replica.id) {
                Ok((child, port)) => {
                    replica.pid = child.id();
                    replica.child = Some(child);
                    replica.port = port;
                    replica.restarts = replica.restarts.saturating_add(1);
                    replica.restart_at = None;
                    replica.exit_message = None;
                    replica.started_at = now_ms();
                    let (health, checks) = replica::watch_health(&self.unit.health, port);
                    replica.health = health;
                    replica.checks = checks;
                    replica.reported = ReplicaState::Starting;
                }
                Err(error) => {
                    let delay = replica::backoff(replica.crashes_in_row);
                    replica.crashes_in_row = replica.crashes_in_row.saturating_add(1);
                    replica.restart_at = Some(now + delay);
                    failures.push(format!("replica {} cannot start: {error}", replica.id));
                }
            }
            changed = true;
        }
        for message in failures {
            self.error(events, message);
        }
        changed
    }

    /// Starts or stops replicas of `release` until it has `wanted` of them; the ones that go
    /// are those not healthy first, then the oldest.
    fn scale(
        &mut self,
        dir: &AgentDir,
        release: &ReleaseSpec,
        wanted: usize,
        folder: &std::path::Path,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        let mut changed = false;
        loop {
            let mut have: Vec<usize> =
                (0..self.replicas.len()).filter(|idx| self.replicas[*idx].release == release.number).collect();
            if have.len() <= wanted {
                break;
            }
            have.sort_by_key(|idx| {
                let replica = &self.replicas[*idx];
                (replica.state() == ReplicaState::Healthy, replica.started_at)
            });
            self.retire(have[0]);
            changed = true;
        }
        let have = self.replicas.iter().filter(|replica| replica.release == release.number).count();
        for _ in have..wanted {
            let id = format!(
                "{}-{}-{}-{}",
                self.unit.key.service, self.unit.key.environment, release.number, self.next_replica
            );
            self.next_replica = self.next_replica.saturating_add(1);
            match launch(dir, release, folder, &id) {
                Ok((child, port)) => {
                    tracing::info!(
                        "{}: started replica {id} of release {} (pid {}, port {port})",
                        unit_name(&self.unit.key),
                        release.number,
                        child.id()
                    );
                    let (health, checks) = replica::watch_health(&self.unit.health, port);
                    self.replicas.push(Replica {
                        stdout: Tailer::new(dir.log_path(&id, "out"), 0),
                        stderr: Tailer::new(dir.log_path(&id, "err"), 0),
                        id,
                        release: release.number,
                        port,
                        pid: child.id(),
                        child: Some(child),
                        started_at: now_ms(),
                        restarts: 0,
                        crashes_in_row: 0,
                        restart_at: None,
                        exit_message: None,
                        healthy_since: None,
                        reported: ReplicaState::Starting,
                        health,
                        checks,
                    });
                }
                Err(error) => {
                    let message = format!("replica {id} of release {} cannot start: {error}", release.number);
                    self.abort_rollout(&message);
                    self.error(events, message);
                    break;
                }
            }
            changed = true;
        }
        changed
    }

    /// An `error` event, once while the same error holds.
    fn error(&mut self, events: &mut Vec<AgentEvent>, message: String) {
        if self.last_error.as_deref() == Some(message.as_str()) {
            return;
        }
        tracing::warn!("{}: {message}", unit_name(&self.unit.key));
        self.last_error = Some(message.clone());
        events.push(AgentEvent { key: self.unit.key.clone(), at: now_ms(), kind: AgentEventKind::Error, message });
    }

    /// Takes replica `idx` out and stops it (SIGTERM, then SIGKILL after the grace period).
    fn retire(&mut self, idx: usize) {
        let mut replica = self.replicas.remove(idx);
        replica.checks.abort();
        self.collect_output(&mut replica);
        // Out of the rotation first: it takes no new request while it finishes its own.
        self.apply_routes();
        let proxy = self.proxy().cloned();
        let drain = Duration::from_millis(self.unit.drain_timeout_ms);
        let grace = Duration::from_millis(self.unit.stop_grace_ms);
        let logs = [replica.stdout.path().to_owned(), replica.stderr.path().to_owned()];
        tokio::spawn(async move {
            if let Some(proxy) = proxy {
                proxy.drain(&replica.id, drain).await;
            }
            replica::stop(replica.pid, replica.child.take(), grace).await;
            for path in logs {
                let _ = tokio::fs::remove_file(path).await;
            }
        });
    }

    /// Stops every replica (the unit has no release).
    fn stop_replicas(&mut self) {
        while !self.replicas.is_empty() {
            self.retire(self.replicas.len() - 1);
        }
    }

    /// Stops every replica and the proxy (the unit left the desired state).
    pub(crate) fn stop_all(&mut self) {
        self.stop_replicas();
        if let Some((proxy, _)) = self.proxy.take() {
            tokio::spawn(proxy.shutdown());
        }
    }

    /// Leaves the replicas running, for another agent to adopt.
    pub(crate) fn detach(&mut self) {
        for replica in &self.replicas {
            replica.checks.abort();
        }
    }

    /// The output its replicas wrote since the last call, masked.
    pub(crate) fn read_output(&mut self, lines: &mut Vec<ServiceLogLine>) {
        lines.append(&mut self.pending_lines);
        let mut replicas = std::mem::take(&mut self.replicas);
        for replica in &mut replicas {
            self.collect_output(replica);
        }
        self.replicas = replicas;
        lines.append(&mut self.pending_lines);
    }

    fn collect_output(&mut self, replica: &mut Replica) {
        let secrets = self.secrets();
        for (stream, tailer) in [(LogStream::Stdout, &mut replica.stdout), (LogStream::Stderr, &mut replica.stderr)] {
            for text in tailer.read_lines() {
                self.pending_lines.push(ServiceLogLine {
                    key: self.unit.key.clone(),
                    replica: replica.id.clone(),
                    release: replica.release,
                    stream,
                    at: now_ms(),
                    text: mask(&text, &secrets),
                });
            }
        }
    }

    /// The secret values its releases carry, longest first (so a secret holding another is
    /// masked whole).
    fn secrets(&self) -> Vec<String> {
        let releases = self.unit.release.iter().chain(self.unit.deployment.iter().map(|order| &order.release));
        let mut secrets: Vec<String> = releases
            .flat_map(|release| {
                release.secret_keys.iter().filter_map(|key| release.env.get(key)).filter(|value| !value.is_empty())
            })
            .cloned()
            .collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        secrets.dedup();
        secrets
    }

    pub(crate) fn status(&self) -> UnitStatus {
        UnitStatus {
            key: self.unit.key.clone(),
            release: self.serving,
            replicas: self
                .replicas
                .iter()
                .map(|replica| ReplicaStatus {
                    id: replica.id.clone(),
                    release: replica.release,
                    state: replica.state(),
                    port: replica.port,
                    pid: Some(replica.pid),
                    restarts: replica.restarts,
                    message: replica.message(),
                })
                .collect(),
            traffic: self.proxy().map(Proxy::traffic).unwrap_or_default(),
            deployment: self.rollout.as_ref().map(Rollout::progress),
        }
    }
}

/// Starts a replica `id` of `release`.
fn launch(
    dir: &AgentDir,
    release: &ReleaseSpec,
    folder: &std::path::Path,
    id: &str,
) -> Result<(std::process::Child, u16), String> {
    let ProcessSpec::Run { command } = &release.process else {
        return Err("this agent has no container support yet".to_owned());
    };
    replica::spawn(&Launch {
        folder,
        command,
        env: &release.env,
        out: &dir.log_path(id, "out"),
        err: &dir.log_path(id, "err"),
    })
}
