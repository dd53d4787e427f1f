//! Tests of [`plan`]: units built from deploy.yml texts (as the server builds them) against
//! what an agent was given and reports, each case read as the lines `ferry plan` prints.

use std::collections::BTreeMap;

use ferry_proto::agent::{ReplicaStatus, UnitStatus};

use super::*;
use crate::compile;

const FILE: &str = "\
environments:
  staging: {}
  production: {}
services:
  web:
    run: python3 server.py
    env: { GREETING: hello }
    deploy:
      staging: { port: 8001 }
      production: { port: 8002, replicas: 2 }
  worker:
    run: ./worker
    deploy: { production: { port: 9000 } }
";

/// The units of `src` for `environment`, each serving `release` of its service.
fn units(src: &str, environment: &str, releases: &[(&str, i64)]) -> Vec<Unit> {
    let (spec, diagnostics) = compile(src);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:#?}");
    let spec = spec.expect("a spec");
    releases
        .iter()
        .filter_map(|(service, number)| {
            let release = spec.service(service)?.release_spec(*number, Vec::new(), &BTreeMap::new(), Vec::new());
            spec.unit("shop", service, environment, Some(release))
        })
        .collect()
}

/// What an agent reports for `unit`: `replicas` as (release, state) and the release serving.
fn status(unit: &Unit, serving: Option<i64>, replicas: &[(i64, ReplicaState)]) -> UnitStatus {
    UnitStatus {
        key: unit.key.clone(),
        release: serving,
        replicas: replicas
            .iter()
            .enumerate()
            .map(|(idx, &(release, state))| ReplicaStatus {
                id: format!("{}-{idx}", unit.key.service),
                release,
                state,
                port: 40_000 + idx as u16,
                pid: None,
                restarts: 0,
                message: None,
            })
            .collect(),
        traffic: Vec::new(),
        deployment: None,
    }
}

fn lines(changes: &[Change]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

const HEALTHY: ReplicaState = ReplicaState::Healthy;

#[test]
fn nothing_changes_when_what_runs_is_what_is_wanted() {
    let desired = units(FILE, "production", &[("web", 7)]);
    let reported = [status(&desired[0], Some(7), &[(7, HEALTHY), (7, HEALTHY)])];
    assert!(plan(&desired, &desired, &reported).is_empty());
}

#[test]
fn a_new_release_and_more_replicas_read_like_terraform() {
    let current = units(FILE, "production", &[("web", 6)]);
    let desired = units(&FILE.replace("replicas: 2", "replicas: 3"), "production", &[("web", 7)]);
    let reported = [status(&current[0], Some(6), &[(6, HEALTHY), (6, HEALTHY)])];
    assert_eq!(
        lines(&plan(&desired, &current, &reported)),
        ["~ web/production: release 6 → 7", "~ web/production: +1 replica (2 → 3)"]
    );
}

#[test]
fn env_command_port_and_health_changes_are_named() {
    let current = units(FILE, "production", &[("web", 7)]);
    let changed = FILE
        .replace("GREETING: hello", "GREETING: hi, NEW: x")
        .replace("python3 server.py", "python3 app.py")
        .replace("port: 8002", "port: 8003")
        .replace("    env:", "    health: { http: /healthz }\n    env:");
    let desired = units(&changed, "production", &[("web", 7)]);
    let reported = [status(&current[0], Some(7), &[(7, HEALTHY), (7, HEALTHY)])];
    assert_eq!(
        lines(&plan(&desired, &current, &reported)),
        [
            "~ web/production: listen on 127.0.0.1:8003 instead of 127.0.0.1:8002",
            "~ web/production: command `python3 server.py` → `python3 app.py`",
            "~ web/production: env GREETING changed",
            "~ web/production: env NEW added",
            "~ web/production: health check changed",
        ]
    );
}

#[test]
fn units_come_and_go() {
    let current = units(FILE, "production", &[("web", 7), ("worker", 3)]);
    let desired = units(FILE, "production", &[("web", 7)]);
    let staging = units(FILE, "staging", &[("web", 7)]);
    let reported = [
        status(&current[0], Some(7), &[(7, HEALTHY), (7, HEALTHY)]),
        status(&current[1], Some(3), &[(3, HEALTHY), (3, ReplicaState::Draining)]),
    ];
    let desired: Vec<Unit> = desired.into_iter().chain(staging).collect();
    assert_eq!(
        lines(&plan(&desired, &current, &reported)),
        [
            "+ web/staging: start release 7 with 1 replica on 127.0.0.1:8001",
            "- worker/production: stop (1 replica of release 3)"
        ]
    );
}

#[test]
fn drift_and_unhealthy_replicas_are_repaired() {
    let desired = units(FILE, "production", &[("web", 7)]);
    let reported =
        [status(&desired[0], Some(7), &[(7, ReplicaState::Unhealthy), (5, HEALTHY), (7, ReplicaState::Exited)])];
    assert_eq!(
        lines(&plan(&desired, &desired, &reported)),
        [
            "~ web/production: +1 replica (1 → 2)",
            "~ web/production: replace 1 replica of release 5 (drift)",
            "~ web/production: restart 1 unhealthy replica",
        ]
    );
}

#[test]
fn a_unit_never_deployed_gets_its_first_release() {
    let desired = units(FILE, "staging", &[("web", 1)]);
    let mut current = desired.clone();
    current[0].release = None;
    let reported = [status(&desired[0], None, &[])];
    assert_eq!(
        lines(&plan(&desired, &current, &reported)),
        ["~ web/staging: release 1 (none serves yet)", "~ web/staging: +1 replica (0 → 1)"]
    );
}
