//! The supervisor: what the agent runs, unit by unit, reconciled with the desired state every
//! tick (about every 250 ms).
//!
//! Per unit it keeps `replicas` replicas of the unit's release running and healthy: a
//! replica that exits is restarted with backoff (1 s doubling to 30 s, reset once it was
//! healthy for 60 s) and a `crashed` event; a replica of a release the desired state does not
//! want, or one that died while the agent was away, is replaced with a `drift` event. A
//! deployment order is carried out by `ferry_deploy::Rollout` (recreate, rolling, blue-green,
//! canary, analysis and rollback): each tick the unit steps it with what it observes (its
//! replicas' states, its proxy's counts per release) and applies the plan (replicas per
//! release, proxy weights); failures only the agent sees (a port taken, release files
//! missing, a replica that cannot start, an `image:` release on a host whose Docker Engine
//! does not answer) end it as rolled back. The rollout is kept in `state.json`, so a restarted
//! agent goes on with it.
//!
//! Replicas are processes or containers (`replica.rs`); the engine is reached only once a
//! unit runs an `image:` release or `state.json` lists containers, and tried again every few
//! seconds while it does not answer.
//!
//! On start the supervisor adopts the replicas `state.json` lists whose process group is
//! alive and whose port accepts connections; the others are replaced. Containers are adopted
//! from the engine's list of this agent's containers (by their labels) once it answers: a
//! running one of a unit still desired is adopted, any other is removed. On shutdown it
//! leaves its replicas running (process groups of their own, containers) and writes
//! `state.json`.

mod replica;
mod unit;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_client::Client;
use ferry_proto::agent::{AgentEvent, AgentEventKind, DesiredState, ServiceLogLine, UnitKey, UnitStatus};

use crate::containers::{Engine, Labelled};
use crate::dir::{AgentDir, ReplicaRecord, RuntimeState, UnitRecord};
use crate::logs::Tailer;
use crate::now_ms;

use replica::Instance;
pub(crate) use replica::Replica;
use unit::{Host, UnitRuntime, short_id};

/// How long after the engine did not answer it is tried again.
const ENGINE_RETRY: Duration = Duration::from_secs(5);

/// Everything the agent runs, and the desired state it works towards.
#[derive(Debug)]
pub struct Supervisor {
    dir: Arc<AgentDir>,
    generation: i64,
    units: BTreeMap<UnitKey, UnitRuntime>,
    /// Events not yet taken for a report.
    events: Vec<AgentEvent>,
    /// Whether `state.json` lags behind what runs.
    dirty: bool,
    /// The Docker Engine, once a unit needed it and it answered.
    engine: Option<Engine>,
    /// Why the engine did not answer, and when it is tried again.
    engine_error: Option<(String, Instant)>,
    /// Container replicas of an earlier agent, adopted (or removed) once the engine answers.
    adopting: Option<Vec<ReplicaRecord>>,
}

impl Supervisor {
    /// A supervisor over `dir` that adopts the replicas of `state` still alive for the
    /// units of `desired`, and stops those of units `desired` does not have.
    pub fn start(dir: Arc<AgentDir>, state: RuntimeState, desired: Option<DesiredState>) -> Supervisor {
        let mut supervisor = Supervisor {
            dir,
            generation: 0,
            units: BTreeMap::new(),
            events: Vec::new(),
            dirty: true,
            engine: None,
            engine_error: None,
            adopting: Some(Vec::new()),
        };
        let desired = desired.unwrap_or(DesiredState { generation: 0, units: Vec::new() });
        supervisor.generation = desired.generation;
        for unit in desired.units {
            let record = state.units.iter().find(|record| record.key == unit.key);
            let runtime = UnitRuntime::new(unit, record);
            supervisor.units.insert(runtime.unit.key.clone(), runtime);
        }
        for record in state.replicas {
            if record.container.is_some() {
                supervisor.adopting.get_or_insert_default().push(record);
            } else {
                supervisor.adopt(record);
            }
        }
        supervisor
    }

    /// The desired generation it works towards.
    #[must_use]
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// Takes a new desired state: new units are served, changed ones reconciled at the next
    /// tick, units that left are stopped.
    pub fn set_desired(&mut self, desired: DesiredState) {
        self.generation = desired.generation;
        let mut wanted = BTreeMap::new();
        for unit in desired.units {
            wanted.insert(unit.key.clone(), unit);
        }
        let gone: Vec<UnitKey> = self.units.keys().filter(|key| !wanted.contains_key(key)).cloned().collect();
        for key in gone {
            if let Some(mut runtime) = self.units.remove(&key) {
                tracing::info!("{}: no longer in the desired state, stopping it", unit_name(&key));
                runtime.stop_all();
            }
        }
        for (key, mut unit) in wanted {
            match self.units.get_mut(&key) {
                Some(runtime) => {
                    // A deployment the server recorded as over (rolled back, reverted) is
                    // stepped on until it settled: the new release serves until the one
                    // put back is healthy again.
                    let unsettled = runtime
                        .rollout
                        .as_ref()
                        .is_some_and(|rollout| rollout.outcome.is_some() && !rollout.plan().settled);
                    if unit.deployment.is_none() && unsettled {
                        unit.deployment = runtime.unit.deployment.take();
                    }
                    runtime.unit = unit;
                }
                None => {
                    self.units.insert(key, UnitRuntime::new(unit, None));
                }
            }
        }
        self.dirty = true;
    }

    /// One round of reconciling: watches processes and health, starts, restarts and stops
    /// replicas, fetches releases (with `client`, when there is a server); the output lines
    /// read since the last tick, masked.
    pub async fn tick(&mut self, client: Option<&Client>) -> Vec<ServiceLogLine> {
        let now = Instant::now();
        let mut lines = Vec::new();
        self.reach_engine(now).await;
        let engine = match (&self.engine, &self.engine_error) {
            (Some(engine), _) => Ok(engine),
            (None, Some((why, _))) => Err(why.as_str()),
            (None, None) => Err("the Docker Engine was not reached yet"),
        };
        let host = Host { dir: &self.dir, client, engine };
        for runtime in self.units.values_mut() {
            let changed = runtime.reconcile(&host, now, &mut self.events).await;
            self.dirty |= changed;
            runtime.read_output(&mut lines);
        }
        if self.dirty {
            match self.dir.save_state(&self.runtime_state()) {
                Ok(()) => self.dirty = false,
                Err(error) => tracing::warn!(%error, "keeping the agent's state: {error}"),
            }
        }
        lines
    }

    /// What each unit runs now, as reported.
    #[must_use]
    pub fn statuses(&self) -> Vec<UnitStatus> {
        self.units.values().map(UnitRuntime::status).collect()
    }

    /// Each unit's proxy, for the agent's `/metrics`.
    #[must_use]
    pub fn proxies(&self) -> Vec<(UnitKey, ferry_proxy::Proxy)> {
        self.units
            .iter()
            .filter_map(|(key, runtime)| runtime.proxy().map(|proxy| (key.clone(), proxy.clone())))
            .collect()
    }

    /// The events since the last call.
    pub fn take_events(&mut self) -> Vec<AgentEvent> {
        std::mem::take(&mut self.events)
    }

    /// Leaves every replica running and writes `state.json` for the next agent to adopt them;
    /// the proxies stop (they live in the agent's process and come back with the next agent).
    pub async fn shutdown(mut self) {
        for runtime in self.units.values_mut() {
            runtime.detach();
            if let Some(proxy) = runtime.proxy().cloned() {
                proxy.shutdown().await;
            }
        }
        self.detach();
    }

    /// Leaves every replica running and writes `state.json` for the next agent to adopt them.
    pub fn detach(mut self) {
        for runtime in self.units.values_mut() {
            runtime.detach();
        }
        if let Err(error) = self.dir.save_state(&self.runtime_state()) {
            tracing::warn!(%error, "keeping the agent's state: {error}");
        }
    }

    /// Connects to the engine when a unit runs an image or containers wait for adoption, at
    /// most every [`ENGINE_RETRY`] while it does not answer; once it does, adopts this agent's
    /// containers.
    async fn reach_engine(&mut self, now: Instant) {
        let adopting = self.adopting.as_ref().is_some_and(|records| !records.is_empty());
        let wanted = adopting || self.units.values().any(UnitRuntime::runs_images);
        if self.engine.is_none() && wanted && self.engine_error.as_ref().is_none_or(|(_, retry)| now >= *retry) {
            match Engine::connect().await {
                Ok(engine) => {
                    tracing::info!("reached the Docker Engine at {}", engine.endpoint());
                    self.engine = Some(engine);
                    self.engine_error = None;
                }
                Err(error) => {
                    if self.engine_error.is_none() {
                        tracing::warn!(%error, "{error}");
                    }
                    self.engine_error = Some((error.to_string(), now + ENGINE_RETRY));
                }
            }
        }
        let Some(engine) = self.engine.clone() else { return };
        let Some(records) = self.adopting.take() else { return };
        match engine.labelled(&self.dir.root().display().to_string()).await {
            Ok(containers) => {
                for container in containers {
                    self.adopt_container(&engine, container, &records);
                }
                self.dirty = true;
            }
            Err(error) => {
                tracing::warn!(%error, "{error}");
                self.adopting = Some(records);
            }
        }
    }

    /// A container of an earlier agent (its labels name this agent's directory): adopted when
    /// it runs and its unit is still desired, otherwise removed (its unit replaces it).
    fn adopt_container(&mut self, engine: &Engine, container: Labelled, records: &[ReplicaRecord]) {
        let record = records.iter().find(|record| record.container.as_deref() == Some(container.id.as_str()));
        let runtime = self.units.values_mut().find(|runtime| {
            crate::containers::unit_label(&runtime.unit.key) == container.unit
                && !runtime.replicas.iter().any(|replica| replica.id == container.replica)
        });
        let Some(runtime) = runtime.filter(|_| container.running && container.port != 0) else {
            let why = if container.running {
                "serves no unit in the desired state"
            } else {
                "stopped while the agent was away"
            };
            tracing::info!("container {} of replica {} {why}: removing it", short_id(&container.id), container.replica);
            if let Some(runtime) =
                self.units.values().find(|runtime| crate::containers::unit_label(&runtime.unit.key) == container.unit)
            {
                self.events.push(AgentEvent {
                    key: runtime.unit.key.clone(),
                    at: now_ms(),
                    kind: AgentEventKind::Drift,
                    message: format!(
                        "replica {} (container {}) {why}: replacing it",
                        container.replica,
                        short_id(&container.id)
                    ),
                });
            }
            let engine = engine.clone();
            tokio::spawn(async move { engine.remove(&container.id).await });
            return;
        };
        tracing::info!(
            "{}: adopted replica {} of release {} (container {}, port {})",
            unit_name(&runtime.unit.key),
            container.replica,
            container.release,
            short_id(&container.id),
            container.port
        );
        let (out, err) = (self.dir.log_path(&container.replica, "out"), self.dir.log_path(&container.replica, "err"));
        // The output is followed again from the second the files were last written.
        let since = [&out, &err]
            .iter()
            .filter_map(|path| std::fs::metadata(path).and_then(|meta| meta.modified()).ok())
            .filter_map(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let (exit, watcher) = engine.watch(&container.id, out.clone(), err.clone(), since);
        let (health, checks) = replica::watch_health(&runtime.unit.health, container.port);
        runtime.replicas.push(Replica {
            stdout: Tailer::new(out, record.map_or(0, |record| record.stdout_offset)),
            stderr: Tailer::new(err, record.map_or(0, |record| record.stderr_offset)),
            id: container.replica,
            release: container.release,
            port: container.port,
            instance: Instance::Container { id: container.id, engine: engine.clone(), exit, watcher },
            started_at: record.map_or_else(now_ms, |record| record.started_at),
            restarts: record.map_or(0, |record| record.restarts),
            crashes_in_row: 0,
            restart_at: None,
            exit_message: None,
            healthy_since: None,
            reported: ferry_proto::agent::ReplicaState::Starting,
            health,
            checks,
        });
    }

    /// The replica of an earlier agent, adopted when it still serves a unit here; otherwise
    /// stopped (its unit left) or left for the unit to replace (it died).
    fn adopt(&mut self, record: ReplicaRecord) {
        let alive = replica::leads_group(record.pid) && replica::group_alive(record.pid);
        let answers = alive && std::net::TcpStream::connect(("127.0.0.1", record.port)).is_ok();
        let Some(runtime) = self.units.get_mut(&record.key) else {
            if alive {
                tracing::info!(
                    "replica {} (pid {}) serves a unit no longer in the desired state: stopping it",
                    record.id,
                    record.pid
                );
                tokio::spawn(replica::stop(record.pid, None, std::time::Duration::from_secs(10)));
            }
            return;
        };
        if !answers {
            let why = if alive { "does not answer on its port" } else { "died while the agent was away" };
            let message =
                format!("replica {} of release {} (pid {}) {why}: replacing it", record.id, record.release, record.pid);
            tracing::info!("{}: {message}", unit_name(&record.key));
            if alive {
                tokio::spawn(replica::stop(
                    record.pid,
                    None,
                    std::time::Duration::from_millis(runtime.unit.stop_grace_ms),
                ));
            }
            self.events.push(AgentEvent {
                key: record.key.clone(),
                at: now_ms(),
                kind: AgentEventKind::Drift,
                message,
            });
            return;
        }
        tracing::info!(
            "{}: adopted replica {} of release {} (pid {}, port {})",
            unit_name(&record.key),
            record.id,
            record.release,
            record.pid,
            record.port
        );
        let (health, checks) = replica::watch_health(&runtime.unit.health, record.port);
        runtime.replicas.push(Replica {
            stdout: Tailer::new(self.dir.log_path(&record.id, "out"), record.stdout_offset),
            stderr: Tailer::new(self.dir.log_path(&record.id, "err"), record.stderr_offset),
            id: record.id,
            release: record.release,
            port: record.port,
            instance: Instance::Process { pid: record.pid, child: None },
            started_at: record.started_at,
            restarts: record.restarts,
            crashes_in_row: 0,
            restart_at: None,
            exit_message: None,
            healthy_since: None,
            reported: ferry_proto::agent::ReplicaState::Starting,
            health,
            checks,
        });
    }

    fn runtime_state(&self) -> RuntimeState {
        let mut state = RuntimeState::default();
        for runtime in self.units.values() {
            state.units.push(UnitRecord {
                key: runtime.unit.key.clone(),
                serving: runtime.serving,
                next_replica: runtime.next_replica,
                deployment: runtime.rollout.clone(),
            });
            for replica in &runtime.replicas {
                state.replicas.push(ReplicaRecord {
                    id: replica.id.clone(),
                    key: runtime.unit.key.clone(),
                    release: replica.release,
                    pid: replica.instance.pid().unwrap_or(0),
                    container: replica.instance.container().map(str::to_owned),
                    port: replica.port,
                    started_at: replica.started_at,
                    restarts: replica.restarts,
                    stdout_offset: replica.stdout.offset,
                    stderr_offset: replica.stderr.offset,
                });
            }
        }
        state
    }
}

/// `project/service/environment`, as messages name a unit.
pub(crate) fn unit_name(key: &UnitKey) -> String {
    format!("{}/{}/{}", key.project, key.service, key.environment)
}
