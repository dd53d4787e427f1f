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
    let refused =
        container_def(&json!({"image": "x", "options": "--network host"}), "services.db").expect_err("refused").clone();
    assert!(refused.starts_with("`services.db.options`: option `--network`"), "{refused}");
}

#[test]
fn ports_name_the_container_port_and_maybe_the_host_port() {
    assert_eq!(parse_port("80").expect("valid"), ("80".to_owned(), None));
    assert_eq!(parse_port("8080:80").expect("valid"), ("80".to_owned(), Some("8080".to_owned())));
    assert_eq!(parse_port("127.0.0.1:8080:80/udp").expect("valid"), ("80/udp".to_owned(), Some("8080".to_owned())));
    assert!(parse_port("http").expect_err("refused").contains("not a port number"));
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
