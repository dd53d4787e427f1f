//! Reading `container:` and `services:` definitions and translating paths; starting real
//! containers is in the integration tests.

use serde_json::json;

use super::*;

#[test]
fn a_definition_is_an_image_or_a_mapping_and_an_empty_image_means_the_host() {
    let def = container_def(&json!("node:20"), "container").expect("valid").expect("a container");
    assert_eq!(def.image, "node:20");
    assert!(container_def(&json!(""), "container").expect("valid").is_none());
    assert!(container_def(&json!({"image": ""}), "container").expect("valid").is_none());
    let def = container_def(
        &json!({
            "image": "postgres:16",
            "credentials": {"username": "u", "password": "p"},
            "env": {"POSTGRES_PASSWORD": "pw", "N": 5},
            "ports": ["5432:5432", 6379],
            "volumes": ["data:/var/lib/postgresql/data"],
            "options": "--health-cmd pg_isready --health-interval 10s",
            "command": "postgres -c fsync=off",
        }),
        "services.db",
    )
    .expect("valid")
    .expect("a container");
    assert_eq!(def.credentials, Some(Credentials { username: "u".into(), password: "p".into() }));
    assert_eq!(def.env, vec!["POSTGRES_PASSWORD=pw".to_owned(), "N=5".to_owned()]);
    assert_eq!(def.ports, vec!["5432:5432".to_owned(), "6379".to_owned()]);
    assert_eq!(def.options.health_cmd.as_deref(), Some("pg_isready"));
    assert_eq!(def.command, Some(vec!["postgres".to_owned(), "-c".to_owned(), "fsync=off".to_owned()]));
    let refused = container_def(&json!({"image": "x", "options": "--network host"}), "services.db")
        .expect_err("refused")
        .to_string();
    assert!(refused.starts_with("`services.db.options`: option `--network`"), "{refused}");
}

#[test]
fn ports_name_the_container_port_and_maybe_the_host_port() {
    assert_eq!(parse_port("80").expect("valid"), ("80".to_owned(), None));
    assert_eq!(parse_port("8080:80").expect("valid"), ("80".to_owned(), Some("8080".to_owned())));
    assert_eq!(parse_port("127.0.0.1:8080:80/udp").expect("valid"), ("80/udp".to_owned(), Some("8080".to_owned())));
    let refused = parse_port("http").expect_err("refused");
    assert!(matches!(&refused, ContainerError::PortNumber { container, .. } if container == "http"), "{refused:?}");
    assert_eq!(refused.to_string(), "port `http`: `http` is not a port number");
    let refused = parse_port("1:2:3:4").expect_err("refused");
    assert!(matches!(refused, ContainerError::PortShape { .. }), "{refused:?}");
}

#[test]
fn host_paths_translate_to_the_deepest_mount() {
    let mounts = [
        (PathBuf::from("/w/job/temp/_tool"), "/__w/_tool".to_owned()),
        (PathBuf::from("/w/job/workspace"), "/__w/workspace/workspace".to_owned()),
        (PathBuf::from("/w/job/temp"), "/__w/_temp".to_owned()),
    ];
    assert_eq!(translate(&mounts, "/w/job/workspace"), "/__w/workspace/workspace");
    assert_eq!(translate(&mounts, "/w/job/workspace/src/a.rs"), "/__w/workspace/workspace/src/a.rs");
    assert_eq!(translate(&mounts, "/w/job/temp/_tool/node"), "/__w/_tool/node");
    assert_eq!(translate(&mounts, "/w/job/temp/x"), "/__w/_temp/x");
    assert_eq!(translate(&mounts, "/w/job/workspace2"), "/w/job/workspace2");
    assert_eq!(translate(&mounts, "/usr/bin"), "/usr/bin");
}

#[test]
fn a_service_that_is_not_healthy_shows_its_last_log_lines() {
    let error = ContainerError::Unhealthy {
        id: "db".to_owned(),
        why: "is unhealthy",
        logs: vec!["starting".to_owned(), "FATAL: bad password".to_owned()],
    };
    assert_eq!(
        error.to_string(),
        "service container `db` is unhealthy; check its image, `env` and `--health-cmd`. Its logs:\n  starting\n  \
         FATAL: bad password"
    );
}

#[test]
fn the_embedded_runner_refuses_host_folders_and_says_what_to_do() {
    let def = container_def(&json!({"image": "x", "volumes": ["/etc:/host-etc"]}), "container")
        .expect("valid")
        .expect("a container");
    let refused = confined_check("container", &def).expect_err("refused");
    assert!(matches!(&refused, ContainerError::Confined { what, .. } if what == "container"), "{refused:?}");
    let message = refused.to_string();
    assert!(message.contains("volume `/etc:/host-etc`"), "{message}");
    assert!(message.contains("run the job on a `ferry runner` of its own"), "{message}");
}
