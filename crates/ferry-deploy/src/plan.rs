//! `ferry plan`, pure: what converging would change, like `terraform plan`. Compares the units
//! that should run (`desired`) with the units agents were last given (`current`, for what a
//! report does not carry: env, command, health) and what they report running (`reported`),
//! and lists the changes in words, one unit after another:
//!
//! ```text
//! + web/staging: start release 7 with 1 replica on 127.0.0.1:8001
//! ~ web/production: release 6 → 7
//! ~ web/production: +1 replica (1 → 2)
//! ~ web/production: env GREETING changed
//! - worker/production: stop (2 replicas of release 3)
//! ```

use std::collections::{BTreeMap, BTreeSet};

use ferry_proto::agent::{ProcessSpec, ReleaseSpec, ReplicaState, Unit, UnitKey, UnitStatus};
use serde::{Deserialize, Serialize};

/// Whether a change adds a unit, changes one, or removes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
}

/// One change to one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub key: UnitKey,
    pub action: ChangeAction,
    /// What changes, in words ("release 6 → 7", "+1 replica (1 → 2)", "env GREETING changed").
    pub detail: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = match self.action {
            ChangeAction::Create => '+',
            ChangeAction::Update => '~',
            ChangeAction::Delete => '-',
        };
        write!(f, "{sign} {}/{}: {}", self.key.service, self.key.environment, self.detail)
    }
}

/// The changes that take `current` (as `reported` running) to `desired`, ordered by unit
/// (project, service, environment), then as listed in the module's documentation. Empty when
/// nothing would change.
pub fn plan(desired: &[Unit], current: &[Unit], reported: &[UnitStatus]) -> Vec<Change> {
    let desired: BTreeMap<&UnitKey, &Unit> = desired.iter().map(|unit| (&unit.key, unit)).collect();
    let current: BTreeMap<&UnitKey, &Unit> = current.iter().map(|unit| (&unit.key, unit)).collect();
    let reported: BTreeMap<&UnitKey, &UnitStatus> = reported.iter().map(|status| (&status.key, status)).collect();
    let keys: BTreeSet<&UnitKey> = desired.keys().chain(current.keys()).chain(reported.keys()).copied().collect();
    let mut changes = Vec::new();
    for key in keys {
        let mut change = |action: ChangeAction, detail: String| {
            changes.push(Change { key: key.clone(), action, detail });
        };
        let status = reported.get(key).copied();
        let running = status.map(running_replicas).unwrap_or_default();
        match (desired.get(key), current.get(key)) {
            (None, _) => {
                let what = match (status.and_then(|status| status.release), running.len()) {
                    (_, 0) => "stop (nothing runs)".to_owned(),
                    (Some(release), n) => format!("stop ({} of release {release})", plural(n as u32, "replica")),
                    (None, n) => format!("stop ({})", plural(n as u32, "replica")),
                };
                change(ChangeAction::Delete, what);
            }
            (Some(unit), previous) if previous.is_none() && status.is_none() => {
                let what = match &unit.release {
                    Some(release) => format!(
                        "start release {} with {} on {}:{}",
                        release.number,
                        plural(unit.replicas, "replica"),
                        unit.bind,
                        unit.port
                    ),
                    None => format!("serve on {}:{} (no release yet)", unit.bind, unit.port),
                };
                change(ChangeAction::Create, what);
            }
            (Some(unit), previous) => {
                for detail in unit_changes(unit, previous.copied(), status, &running) {
                    change(ChangeAction::Update, detail);
                }
            }
        }
    }
    changes
}

/// The replicas that run: not draining, not exited.
fn running_replicas(status: &UnitStatus) -> Vec<(i64, ReplicaState)> {
    status
        .replicas
        .iter()
        .filter(|replica| !matches!(replica.state, ReplicaState::Draining | ReplicaState::Exited))
        .map(|replica| (replica.release, replica.state))
        .collect()
}

fn unit_changes(
    unit: &Unit,
    previous: Option<&Unit>,
    status: Option<&UnitStatus>,
    running: &[(i64, ReplicaState)],
) -> Vec<String> {
    let mut details = Vec::new();
    let wanted = unit.release.as_ref().map(|release| release.number);
    // What serves: as reported, else what the agent was last given.
    let serving = status.and_then(|status| status.release).or_else(|| previous?.release.as_ref().map(|r| r.number));
    match (serving, wanted) {
        (Some(from), Some(to)) if from != to => details.push(format!("release {from} → {to}")),
        (None, Some(to)) => details.push(format!("release {to} (none serves yet)")),
        (Some(from), None) => details.push(format!("stop release {from} (no release wanted)")),
        _ => {}
    }
    if let Some(previous) = previous {
        if (previous.bind.as_str(), previous.port) != (unit.bind.as_str(), unit.port) {
            details
                .push(format!("listen on {}:{} instead of {}:{}", unit.bind, unit.port, previous.bind, previous.port));
        }
        if let (Some(before), Some(after)) = (&previous.release, &unit.release) {
            details.extend(release_changes(before, after));
        }
        if previous.health != unit.health {
            details.push("health check changed".to_owned());
        }
        if (previous.drain_timeout_ms, previous.stop_grace_ms) != (unit.drain_timeout_ms, unit.stop_grace_ms) {
            details.push("drain timeout or stop grace changed".to_owned());
        }
        if (previous.response_timeout_ms, &previous.trusted_proxies)
            != (unit.response_timeout_ms, &unit.trusted_proxies)
        {
            details.push("the proxy's response timeout or trusted proxies changed".to_owned());
        }
        if previous.tls != unit.tls {
            details.push("the proxy's TLS certificates changed".to_owned());
        }
    }
    if status.is_some() && wanted.is_some() {
        let n_running = running.iter().filter(|(release, _)| Some(*release) == wanted).count() as u32;
        // Replicas of the wanted release only count once it serves; a release change
        // replaces them all anyway.
        let counted = if serving == wanted { n_running } else { running.len() as u32 };
        if counted != unit.replicas {
            let delta = i64::from(unit.replicas) - i64::from(counted);
            let sign = if delta > 0 { "+" } else { "-" };
            details.push(format!(
                "{sign}{} ({counted} → {})",
                plural(delta.unsigned_abs() as u32, "replica"),
                unit.replicas
            ));
        }
        let strays: BTreeSet<i64> = running
            .iter()
            .map(|(release, _)| *release)
            .filter(|release| Some(*release) != wanted && Some(*release) != serving)
            .collect();
        for release in strays {
            let n = running.iter().filter(|(other, _)| *other == release).count() as u32;
            details.push(format!("replace {} of release {release} (drift)", plural(n, "replica")));
        }
        let unhealthy = running
            .iter()
            .filter(|(release, state)| Some(*release) == serving && *state == ReplicaState::Unhealthy)
            .count() as u32;
        if unhealthy > 0 && serving == wanted {
            details.push(format!("restart {}", plural(unhealthy, "unhealthy replica")));
        }
    }
    details
}

/// What differs between two releases as an agent runs them: the command or image, and the
/// environment (secrets by name only).
fn release_changes(before: &ReleaseSpec, after: &ReleaseSpec) -> Vec<String> {
    let mut details = Vec::new();
    match (&before.process, &after.process) {
        (ProcessSpec::Run { command: a }, ProcessSpec::Run { command: b }) if a != b => {
            details.push(format!("command `{a}` → `{b}`"));
        }
        (ProcessSpec::Image { image: a, .. }, ProcessSpec::Image { image: b, .. }) if a != b => {
            details.push(format!("image `{a}` → `{b}`"));
        }
        (ProcessSpec::Run { .. }, ProcessSpec::Image { image, .. }) => {
            details.push(format!("run the image `{image}` instead of a command"));
        }
        (ProcessSpec::Image { .. }, ProcessSpec::Run { command }) => {
            details.push(format!("run the command `{command}` instead of an image"));
        }
        _ => {}
    }
    let keys: BTreeSet<&String> = before.env.keys().chain(after.env.keys()).collect();
    for key in keys {
        match (before.env.get(key), after.env.get(key)) {
            (None, Some(_)) => details.push(format!("env {key} added")),
            (Some(_), None) => details.push(format!("env {key} removed")),
            (Some(a), Some(b)) if a != b => details.push(format!("env {key} changed")),
            _ => {}
        }
    }
    details
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

#[cfg(test)]
mod tests;
