//! Tokens: the first admin token, bearer checks on every API route, roles, revoking.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::TestServer;

/// Every API route, with a body where it needs one.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/1"),
    ("GET", "/api/v1/projects"),
    ("POST", "/api/v1/projects"),
    ("GET", "/api/v1/projects/web"),
    ("GET", "/api/v1/projects/web/secrets"),
    ("PUT", "/api/v1/projects/web/secrets/TOKEN"),
    ("DELETE", "/api/v1/projects/web/secrets/TOKEN"),
    ("GET", "/api/v1/projects/web/vars"),
    ("PUT", "/api/v1/projects/web/vars/LEVEL"),
    ("GET", "/api/v1/projects/web/vars/LEVEL"),
    ("DELETE", "/api/v1/projects/web/vars/LEVEL"),
];

#[test]
fn the_first_start_writes_an_owner_only_admin_token_that_works() {
    let server = TestServer::start();
    let path = server.dir.path().join("data/admin.token");
    let mode = std::fs::metadata(&path).expect("admin.token").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(server.admin.starts_with("ferry_"), "{}", server.admin);
    let res = server.call("GET", "/api/v1/tokens", Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let tokens = res.json();
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
    assert_eq!(tokens[0]["role"], "admin");
    assert!(!res.body.contains(&server.admin[20..]), "the secret is never listed: {}", res.body);
    let stored = server.with_store(async |store| store.tokens().list().await.expect("tokens"));
    assert!(!stored[0].hash.contains(&server.admin[20..]), "only a hash is stored");
}

#[test]
fn every_api_route_refuses_missing_bad_and_revoked_tokens_with_401() {
    let server = TestServer::start();
    let viewer = server.token("viewer");
    let id = server.with_store(async |store| store.tokens().list().await.expect("tokens")[1].id);
    let res = server.call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 204, "{}", res.body);
    let bad = format!("{}x", &server.admin[..server.admin.len() - 1]);
    for (method, path) in ROUTES {
        for token in [None, Some("nonsense"), Some(bad.as_str()), Some(viewer.as_str())] {
            let res = server.call(method, path, token, Some(&json!({})));
            assert_eq!(res.status, 401, "{method} {path} with {token:?}: {}", res.body);
            assert!(res.json()["error"].is_string(), "{}", res.body);
        }
    }
}

#[test]
fn roles_are_enforced_per_route() {
    let server = TestServer::start();
    let viewer = server.token("viewer");
    let developer = server.token("developer");
    let table: &[(&str, &str, &str, u16)] = &[
        (&viewer, "GET", "/api/v1/tokens", 403),
        (&viewer, "POST", "/api/v1/tokens", 403),
        (&developer, "GET", "/api/v1/tokens", 403),
        (&developer, "DELETE", "/api/v1/tokens/1", 403),
        (&viewer, "POST", "/api/v1/projects", 403),
        (&viewer, "PUT", "/api/v1/projects/web/secrets/TOKEN", 403),
        (&viewer, "GET", "/api/v1/projects", 200),
        (&developer, "POST", "/api/v1/projects", 201),
        (&viewer, "GET", "/api/v1/projects/web", 200),
    ];
    let project = json!({"name": "web", "repo": "/srv/web.git", "role": "viewer", "value": "v"});
    for (token, method, path, status) in table {
        let res = server.call(method, path, Some(token), Some(&project));
        assert_eq!(res.status, *status, "{method} {path}: {}", res.body);
    }
    // Checked last: the first admin token still works after the others were used.
    let res = server.call("GET", "/api/v1/tokens", Some(&server.admin), None);
    assert_eq!(res.json().as_array().map(Vec::len), Some(3));
}

#[test]
fn a_new_token_is_shown_once_and_works_until_revoked() {
    let server = TestServer::start();
    let res =
        server.call("POST", "/api/v1/tokens", Some(&server.admin), Some(&json!({"name": "ci", "role": "developer"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let created = res.json();
    let token = created["token"].as_str().expect("the plaintext");
    assert_eq!(created["role"], "developer");
    assert_eq!(server.call("GET", "/api/v1/projects", Some(token), None).status, 200);
    let list = server.call("GET", "/api/v1/tokens", Some(&server.admin), None);
    assert!(!list.body.contains(token), "{}", list.body);
    let id = created["id"].as_i64().expect("an id");
    assert_eq!(server.call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&server.admin), None).status, 204);
    assert_eq!(server.call("GET", "/api/v1/projects", Some(token), None).status, 401);
    assert_eq!(server.call("DELETE", "/api/v1/tokens/999", Some(&server.admin), None).status, 404);
    let res = server.call("POST", "/api/v1/tokens", Some(&server.admin), Some(&json!({"name": "x", "role": "root"})));
    assert_eq!(res.status, 400, "{}", res.body);
}

#[test]
fn a_restart_keeps_the_tokens_and_does_not_write_another() {
    let server = TestServer::start();
    let config = ferry_server::ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..ferry_server::ServerConfig::new(server.dir.path().join("data"))
    };
    let again = server.block_on(ferry_server::bind(&config)).expect("a second start");
    assert_eq!(again.admin_token_file(), None);
    let token = std::fs::read_to_string(server.dir.path().join("data/admin.token")).expect("admin.token");
    assert_eq!(token.trim(), server.admin);
}
