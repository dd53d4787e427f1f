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
//! missing, a replica that cannot start, an `image:`) end it as rolled back. The rollout is
//! kept in `state.json`, so a restarted agent goes on with it.
//!
//! On start the supervisor adopts the replicas `state.json` lists whose process group is
//! alive and whose port accepts connections; the others are replaced. On shutdown it leaves
//! its replicas running (they are in their own process groups) and writes `state.json`.

mod replica;
mod unit;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ferry_client::Client;
use ferry_proto::agent::{AgentEvent, AgentEventKind, DesiredState, ServiceLogLine, UnitKey, UnitStatus};

use crate::dir::{AgentDir, ReplicaRecord, RuntimeState, UnitRecord};
use crate::logs::Tailer;
use crate::now_ms;

pub(crate) use replica::Replica;
use unit::UnitRuntime;

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
}

impl Supervisor {
    /// A supervisor over `dir` that adopts the replicas of `state` still alive for the
    /// units of `desired`, and stops those of units `desired` does not have.
    pub fn start(dir: Arc<AgentDir>, state: RuntimeState, desired: Option<DesiredState>) -> Supervisor {
        let mut supervisor = Supervisor { dir, generation: 0, units: BTreeMap::new(), events: Vec::new(), dirty: true };
        let desired = desired.unwrap_or(DesiredState { generation: 0, units: Vec::new() });
        supervisor.generation = desired.generation;
        for unit in desired.units {
            let record = state.units.iter().find(|record| record.key == unit.key);
            let runtime = UnitRuntime::new(unit, record);
            supervisor.units.insert(runtime.unit.key.clone(), runtime);
        }
        for record in state.replicas {
            supervisor.adopt(record);
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
        for (key, unit) in wanted {
            match self.units.get_mut(&key) {
                Some(runtime) => runtime.unit = unit,
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
        for runtime in self.units.values_mut() {
            let changed = runtime.reconcile(&self.dir, client, now, &mut self.events).await;
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
            pid: record.pid,
            child: None,
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
                    pid: replica.pid,
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
