//! The agent's directory: one agent per directory, private files, state kept whole.

use std::os::unix::fs::PermissionsExt as _;

use super::*;

#[test]
fn a_second_agent_on_the_same_directory_is_refused_until_the_first_goes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let first = AgentDir::open(temp.path()).expect("open");
    let err = AgentDir::open(temp.path()).expect_err("it fails");
    assert!(matches!(err, AgentError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("one agent per directory"), "{err}");
    drop(first);
    AgentDir::open(temp.path()).expect("open");
}

#[test]
fn state_is_kept_owner_only_and_read_back() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = AgentDir::open(temp.path()).expect("open");
    assert_eq!(dir.load_state().expect("load_state"), RuntimeState::default());
    let key = UnitKey { project: "p".into(), service: "web".into(), environment: "staging".into() };
    let state = RuntimeState {
        replicas: vec![ReplicaRecord {
            id: "web-staging-1-1".into(),
            key: key.clone(),
            release: 1,
            pid: 42,
            container: None,
            port: 4242,
            started_at: 7,
            restarts: 0,
            stdout_offset: 10,
            stderr_offset: 0,
        }],
        units: vec![UnitRecord { key, serving: Some(1), next_replica: 2, deployment: None }],
    };
    dir.save_state(&state).expect("save_state");
    assert_eq!(dir.load_state().expect("load_state"), state);
    let mode = std::fs::metadata(dir.state_path()).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_state_file_that_is_not_json_is_named_with_the_way_out() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = AgentDir::open(temp.path()).expect("open");
    std::fs::write(dir.state_path(), "{not json").expect("write");
    let err = dir.load_state().expect_err("it fails").to_string();
    assert!(err.contains("state.json") && err.contains("move it away"), "{err}");
}
