//! Projects, secrets and variables through the API.

use serde_json::json;

use crate::TestServer;

#[test]
fn projects_are_created_listed_and_read_without_their_webhook_secret() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    let body = json!({"name": "web", "repo": "/srv/web.git", "webhook_secret": "hook-s3cret"});
    let res = server.call("POST", "/api/v1/projects", admin, Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let plain = json!({"name": "api", "repo": "/srv/api.git", "branch": "trunk"});
    assert_eq!(server.call("POST", "/api/v1/projects", admin, Some(&plain)).status, 201);
    assert_eq!(server.call("POST", "/api/v1/projects", admin, Some(&plain)).status, 409);

    let list = server.call("GET", "/api/v1/projects", admin, None);
    assert_eq!(list.status, 200);
    let list = list.json();
    let names: Vec<&str> = list.as_array().expect("a list").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["api", "web"]);
    assert_eq!(list[0]["branch"], "trunk");
    assert_eq!(list[0]["has_webhook_secret"], false);

    let web = server.call("GET", "/api/v1/projects/web", admin, None);
    assert_eq!(web.status, 200);
    assert_eq!(web.json()["branch"], "main");
    assert_eq!(web.json()["has_webhook_secret"], true);
    assert!(!web.body.contains("hook-s3cret"), "{}", web.body);
    assert_eq!(server.call("GET", "/api/v1/projects/nope", admin, None).status, 404);
}

#[test]
fn bad_project_bodies_are_refused_with_400_and_a_json_error() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    for body in [json!({"name": "a b", "repo": "r"}), json!({"name": "web", "repo": ""}), json!({"repo": "r"})] {
        let res = server.call("POST", "/api/v1/projects", admin, Some(&body));
        assert!(matches!(res.status, 400 | 422), "{body}: {} {}", res.status, res.body);
        assert!(res.json()["error"].is_string(), "{}", res.body);
    }
    let res = server.request(
        "POST",
        "/api/v1/projects",
        &[("Authorization", &format!("Bearer {}", server.admin)), ("Content-Type", "application/json")],
        b"{not json",
    );
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(res.json()["error"].is_string(), "{}", res.body);
}

#[test]
fn secrets_are_encrypted_at_rest_and_never_answered() {
    let server = TestServer::start();
    let developer = server.token("developer");
    let developer = Some(developer.as_str());
    let project = json!({"name": "web", "repo": "/srv/web.git"});
    assert_eq!(server.call("POST", "/api/v1/projects", developer, Some(&project)).status, 201);
    let value = "hunter2-very-secret";
    let res = server.call("PUT", "/api/v1/projects/web/secrets/DEPLOY_KEY", developer, Some(&json!({"value": value})));
    assert_eq!(res.status, 204, "{}", res.body);
    let res = server.call("PUT", "/api/v1/projects/web/secrets/1BAD", developer, Some(&json!({"value": value})));
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(
        server.call("PUT", "/api/v1/projects/nope/secrets/A", developer, Some(&json!({"value": "v"}))).status,
        404
    );

    let list = server.call("GET", "/api/v1/projects/web/secrets", developer, None);
    assert_eq!(list.status, 200);
    assert_eq!(list.json()[0]["name"], "DEPLOY_KEY");
    for path in
        ["/api/v1/projects/web/secrets", "/api/v1/projects/web", "/api/v1/projects", "/api/v1/projects/web/vars"]
    {
        let res = server.call("GET", path, developer, None);
        assert!(!res.body.contains(value), "{path}: {}", res.body);
    }
    let secret = server.with_store(async |store| {
        let project = store.projects().by_name("web").await.expect("read").expect("web");
        store.secrets().get(project.id, "DEPLOY_KEY").await.expect("read").expect("stored")
    });
    assert_ne!(secret.ciphertext, value.as_bytes());
    assert!(!secret.ciphertext.windows(value.len()).any(|window| window == value.as_bytes()));
    assert_eq!(secret.nonce.len(), 24);

    let res = server.call("DELETE", "/api/v1/projects/web/secrets/DEPLOY_KEY", developer, None);
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(server.call("GET", "/api/v1/projects/web/secrets", developer, None).json(), json!([]));
}

#[test]
fn variables_are_stored_and_answered_as_given() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    assert_eq!(server.call("POST", "/api/v1/projects", admin, Some(&json!({"name": "web", "repo": "r"}))).status, 201);
    let res = server.call("PUT", "/api/v1/projects/web/vars/LEVEL", admin, Some(&json!({"value": "debug"})));
    assert_eq!(res.status, 204, "{}", res.body);
    let var = server.call("GET", "/api/v1/projects/web/vars/LEVEL", admin, None);
    assert_eq!(var.status, 200);
    assert_eq!(var.json()["value"], "debug");
    let list = server.call("GET", "/api/v1/projects/web/vars", admin, None).json();
    assert_eq!(list[0]["name"], "LEVEL");
    assert_eq!(server.call("GET", "/api/v1/projects/web/vars/NOPE", admin, None).status, 404);
    assert_eq!(server.call("DELETE", "/api/v1/projects/web/vars/LEVEL", admin, None).status, 204);
}

#[test]
fn unknown_routes_methods_and_bad_ids_answer_json_errors() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    let table = [
        ("GET", "/nope", 404),
        ("GET", "/api/v1/nope", 404),
        ("PATCH", "/api/v1/projects", 405),
        ("DELETE", "/api/v1/tokens/abc", 400),
    ];
    for (method, path, status) in table {
        let res = server.call(method, path, admin, None);
        assert_eq!(res.status, status, "{method} {path}: {}", res.body);
        assert!(res.json()["error"].is_string(), "{method} {path}: {}", res.body);
    }
}
