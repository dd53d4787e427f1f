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
    ServiceLogLine, TlsFiles, Unit, UnitStatus,
};
use ferry_proxy::{Backend, Proxy, ProxyOptions, Routes, TlsCert};
use tokio::task::JoinHandle;

use super::replica::{self, Instance, Launch, Replica};
use super::unit_name;
use crate::containers::{ContainerError, ContainerLaunch, Engine};
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
    /// Releases whose files are here, with the id of their image (`image:` releases, once
    /// the engine has it).
    fetched: BTreeMap<i64, Option<String>>,
    fetching: BTreeMap<i64, JoinHandle<Result<Option<String>, PrepareError>>>,
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
    /// The certificates last given to the proxy (`None`: not yet), and when they are tried
    /// again after they could not be read.
    proxy_tls: Option<(Vec<TlsFiles>, Option<Instant>)>,
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
            fetched: BTreeMap::new(),
            fetching: BTreeMap::new(),
            fetch_retry: BTreeMap::new(),
            last_error: None,
            pending_lines: Vec::new(),
            proxy: None,
            bind_retry: None,
            routes: Routes::default(),
            proxy_options: None,
            proxy_tls: None,
        }
    }

    /// Whether a release it runs or rolls to is an `image:` one (it needs the engine).
    pub(crate) fn runs_images(&self) -> bool {
        let releases = self.unit.release.iter().chain(self.unit.deployment.iter().map(|order| &order.release));
        releases.into_iter().any(|release| matches!(release.process, ProcessSpec::Image { .. }))
    }

    /// The unit's proxy, when it listens.
    pub(crate) fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref().map(|(proxy, _)| proxy)
    }

    /// Moves what runs one step towards the desired state; whether anything a report shows
    /// changed.
    pub(crate) async fn reconcile(&mut self, host: &Host<'_>, now: Instant, events: &mut Vec<AgentEvent>) -> bool {
        let over = |rollout: &Option<Rollout>| rollout.as_ref().map(|rollout| rollout.outcome.is_some());
        let was_over = over(&self.rollout);
        let mut changed = self.watch_replicas(now, events);
        changed |= self.follow_order();
        changed |= self.bind_proxy(now, events).await;
        self.apply_tls(now, events);
        changed |= self.reconcile_replicas(host, now, events).await;
        self.apply_routes();
        // A deployment that ended is kept at once, whatever else changed.
        changed || over(&self.rollout) != was_over
    }

    /// Starts, restarts and stops replicas towards what is wanted.
    async fn reconcile_replicas(&mut self, host: &Host<'_>, now: Instant, events: &mut Vec<AgentEvent>) -> bool {
        let mut changed = false;
        let (wanted, planned) = self.wanted_now();
        let mut ready = Vec::new();
        for (release, count) in &wanted {
            if let Some(prepared) = self.release_files(host, release, now, events).await {
                ready.push((release.clone(), *count, prepared));
            }
        }
        let numbers: Vec<i64> = wanted.iter().map(|(release, _)| release.number).collect();
        changed |= self.retire_unwanted(&numbers, planned, events);
        changed |= self.restart_due(host, &ready, now, events).await;
        for (release, count, prepared) in &ready {
            changed |= self.scale(host, release, *count as usize, prepared, events).await;
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
            verdict: order.verdict.clone(),
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
                self.proxy_tls = None;
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

    /// Gives the proxy the certificates of `tls:` when they changed (the proxy reads their
    /// files again itself when the files change); certificates that cannot be read are an
    /// `error` event and are tried again a little later.
    fn apply_tls(&mut self, now: Instant, events: &mut Vec<AgentEvent>) {
        let Some((proxy, _)) = &self.proxy else { return };
        let due = match &self.proxy_tls {
            None => true,
            Some((applied, retry)) => *applied != self.unit.tls || retry.is_some_and(|at| now >= at),
        };
        if !due {
            return;
        }
        let certs = self
            .unit
            .tls
            .iter()
            .map(|files| TlsCert { cert: files.cert.clone().into(), key: files.key.clone().into() })
            .collect();
        match proxy.set_tls(certs) {
            Ok(()) => self.proxy_tls = Some((self.unit.tls.clone(), None)),
            Err(error) => {
                self.proxy_tls = Some((self.unit.tls.clone(), Some(now + FETCH_RETRY)));
                self.error(events, format!("the proxy cannot terminate TLS: {error}"));
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

    /// Takes up a new deployment order, or lets go of one the server recorded or withdrew;
    /// stops the one under way when a person cancelled it.
    fn follow_order(&mut self) -> bool {
        let changed = match (&self.unit.deployment, &self.rollout) {
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
                return true;
            }
            (None, None) => return false,
        };
        let cancel = self.unit.deployment.as_ref().and_then(|order| order.cancel.as_deref());
        // One that succeeded here is undone too: on several hosts, a failure on another one
        // puts back the release that served on every host.
        let undoable = |rollout: &Rollout| {
            rollout.outcome.as_ref().is_none_or(|(outcome, _)| *outcome == DeploymentOutcome::Succeeded)
        };
        match (cancel, &mut self.rollout) {
            (Some(reason), Some(rollout)) if undoable(rollout) => {
                tracing::info!("{}: deployment {} cancelled: {reason}", unit_name(&self.unit.key), rollout.id);
                rollout.revert(reason, now_ms());
                self.serving = rollout.previous;
                true
            }
            _ => changed,
        }
    }

    /// The release's files (and image) once they are here; starts or follows their fetch
    /// (and the image's load). An `image:` release on a host whose engine does not answer is
    /// an `error` event and fails the deployment under way.
    async fn release_files(
        &mut self,
        host: &Host<'_>,
        release: &ReleaseSpec,
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> Option<Prepared> {
        let folder = host.dir.release_dir(&self.unit.key, release.number);
        if let Some(image) = self.fetched.get(&release.number) {
            return Some(Prepared { folder, image: image.clone() });
        }
        let image = match &release.process {
            ProcessSpec::Run { .. } if folder.is_dir() => {
                self.fetched.insert(release.number, None);
                return Some(Prepared { folder, image: None });
            }
            ProcessSpec::Run { .. } => None,
            ProcessSpec::Image { image, archive } => match host.engine {
                Ok(engine) => Some((engine.clone(), image.clone(), archive.clone())),
                Err(why) => {
                    let message = format!(
                        "release {} runs the image `{image}`, but {why}; or give the service `run:` instead of `image:`",
                        release.number
                    );
                    self.abort_rollout(&message);
                    self.error(events, message);
                    return None;
                }
            },
        };
        if let Some(fetch) = self.fetching.get(&release.number) {
            if !fetch.is_finished() {
                return None;
            }
            let fetch = self.fetching.remove(&release.number)?;
            match fetch.await {
                Ok(Ok(image)) => {
                    self.fetched.insert(release.number, image.clone());
                    return Some(Prepared { folder, image });
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
        let client = host.client.cloned();
        let release = release.clone();
        let images = host.dir.root().join("images");
        self.fetching.insert(
            release.number,
            tokio::spawn(async move {
                crate::releases::ensure(&folder, &release, client.as_ref()).await?;
                let Some((engine, image, archive)) = image else { return Ok(None) };
                Ok(Some(engine.prepare_image(&release, &image, archive.as_deref(), &folder, &images).await?))
            }),
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
    async fn restart_due(
        &mut self,
        host: &Host<'_>,
        ready: &[(ReleaseSpec, u32, Prepared)],
        now: Instant,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        let mut changed = false;
        let mut failures = Vec::new();
        for replica in &mut self.replicas {
            if replica.restart_at.is_none_or(|at| at > now) {
                continue;
            }
            let Some((spec, _, prepared)) = ready.iter().find(|(release, _, _)| release.number == replica.release)
            else {
                continue;
            };
            match launch(host, &self.unit.key, spec, prepared, &replica.id).await {
                Ok((instance, port)) => {
                    replica.instance = instance;
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
    async fn scale(
        &mut self,
        host: &Host<'_>,
        release: &ReleaseSpec,
        wanted: usize,
        prepared: &Prepared,
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
            match launch(host, &self.unit.key, release, prepared, &id).await {
                Ok((instance, port)) => {
                    let what = match &instance {
                        Instance::Process { pid, .. } => format!("pid {pid}"),
                        Instance::Container { id, .. } => format!("container {}", short_id(id)),
                    };
                    tracing::info!(
                        "{}: started replica {id} of release {} ({what}, port {port})",
                        unit_name(&self.unit.key),
                        release.number,
                    );
                    let (health, checks) = replica::watch_health(&self.unit.health, port);
                    self.replicas.push(Replica {
                        stdout: Tailer::new(host.dir.log_path(&id, "out"), 0),
                        stderr: Tailer::new(host.dir.log_path(&id, "err"), 0),
                        id,
                        release: release.number,
                        port,
                        instance,
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
            replica::stop_instance(replica.instance, grace).await;
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
            replica.instance.detach();
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
                    pid: replica.instance.pid(),
                    restarts: replica.restarts,
                    message: replica.message(),
                })
                .collect(),
            traffic: self.proxy().map(Proxy::traffic).unwrap_or_default(),
            deployment: self.rollout.as_ref().map(Rollout::progress),
        }
    }
}

/// What the units of one agent share for a tick: its directory, the server (when there is
/// one) and the Docker Engine (or why there is none).
pub(crate) struct Host<'a> {
    pub(crate) dir: &'a AgentDir,
    pub(crate) client: Option<&'a Client>,
    pub(crate) engine: Result<&'a Engine, &'a str>,
}

/// Why a release could not be made ready on this host.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error(transparent)]
    Files(#[from] crate::releases::ReleaseError),
    #[error(transparent)]
    Image(#[from] ContainerError),
}

/// Why a replica could not be started.
#[derive(Debug, thiserror::Error)]
enum LaunchError {
    #[error(transparent)]
    Process(#[from] replica::SpawnError),
    /// No engine for an `image:` release: why there is none.
    #[error("{0}")]
    NoEngine(String),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error("the image `{image}` is not ready")]
    ImageNotReady { image: String },
}

/// A release ready to run: its folder, and its image's id for an `image:` release.
#[derive(Debug, Clone)]
struct Prepared {
    folder: PathBuf,
    image: Option<String>,
}

/// Starts a replica `id` of `release`: a process for `run:`, a container for `image:`.
async fn launch(
    host: &Host<'_>,
    key: &ferry_proto::agent::UnitKey,
    release: &ReleaseSpec,
    prepared: &Prepared,
    id: &str,
) -> Result<(Instance, u16), LaunchError> {
    let (out, err) = (host.dir.log_path(id, "out"), host.dir.log_path(id, "err"));
    match (&release.process, &prepared.image) {
        (ProcessSpec::Run { command }, _) => {
            let (child, port) =
                replica::spawn(&Launch { folder: &prepared.folder, command, env: &release.env, out: &out, err: &err })?;
            Ok((Instance::Process { pid: child.id(), child: Some(child) }, port))
        }
        (ProcessSpec::Image { .. }, Some(image)) => {
            let engine = host.engine.map_err(|why| LaunchError::NoEngine(why.to_owned()))?;
            let port = replica::free_port()?;
            let agent = host.dir.root().display().to_string();
            let launch = ContainerLaunch {
                agent: &agent,
                key,
                replica: id,
                release: release.number,
                image,
                env: &release.env,
                port,
            };
            let container = engine.start(&launch).await?;
            let (exit, watcher) = engine.watch(&container, out, err, 0);
            Ok((Instance::Container { id: container, engine: engine.clone(), exit, watcher }, port))
        }
        (ProcessSpec::Image { image, .. }, None) => Err(LaunchError::ImageNotReady { image: image.clone() }),
    }
}

/// The first 12 hex digits of a container id, as `docker ps` shows it.
pub(crate) fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
