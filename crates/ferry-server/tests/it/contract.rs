//! Issue 13: the server refuses what its OpenAPI document does not allow (400 and a JSON
//! error), accepts what it allows, and the document says what the server enforces. These are
//! the disagreements schemathesis found; `scripts/contract` runs it against a live server.

use serde_json::{Value, json};

use crate::openapi::served_document;
use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
"#;

/// A server with project `web` on a repository with a dispatchable workflow.
fn server_with_project() -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    (server, repo)
}

/// The schema `name` of the document's components, following one `$ref`.
fn component<'a>(document: &'a Value, reference: &Value) -> &'a Value {
    let name = reference["$ref"].as_str().and_then(|path| path.strip_prefix("#/components/schemas/"));
    let name = name.unwrap_or_else(|| panic!("{reference} is no reference to a component"));
    &document["components"]["schemas"][name]
}

/// The operation `method path` of the document.
fn operation<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let operation = &document["paths"][path][method];
    assert!(operation.is_object(), "no {method} {path} in the document");
    operation
}

/// The parameter `name` of an operation.
fn parameter<'a>(operation: &'a Value, name: &str) -> &'a Value {
    let parameters = operation["parameters"].as_array().expect("parameters");
    parameters.iter().find(|parameter| parameter["name"] == name).unwrap_or_else(|| panic!("no parameter {name}"))
}

#[test]
fn issue_13_a_json_array_is_no_body() {
    let (server, _repo) = server_with_project();
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    for body in ["[]", "[null, null]", r#"["main"]"#, r#""main""#, "null", "7"] {
        let res = server.request("POST", "/api/v1/projects/web/trigger", &headers, body.as_bytes());
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        assert_eq!(res.json()["error"], "the body must be a JSON object, `{…}`", "{body}");
    }
    let runs = server.call("GET", "/api/v1/projects/web/runs", Some(&server.admin), None);
    assert_eq!(runs.json(), json!([]), "a refused trigger started a run");
    let res = server.request("POST", "/api/v1/tokens", &headers, br#"["ci", "admin"]"#);
    assert_eq!(res.status, 400, "{}", res.body);
}

#[test]
fn issue_13_names_the_server_refuses_are_refused_by_the_document_too() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    let refused = [
        ("/api/v1/projects", json!({"name": "", "repo": "/srv/web.git"})),
        ("/api/v1/projects", json!({"name": "a b", "repo": "/srv/web.git"})),
        ("/api/v1/projects", json!({"name": "web", "repo": " \t"})),
        ("/api/v1/projects", json!({"name": "web", "repo": "/srv/web.git", "branch": ""})),
        ("/api/v1/tokens", json!({"name": "", "role": "viewer"})),
        ("/api/v1/tokens", json!({"name": "\n ", "role": "viewer"})),
        ("/api/v1/tokens", json!({"name": "ci", "role": "root"})),
        ("/api/v1/runners", json!({"name": "", "labels": []})),
    ];
    for (path, body) in refused {
        let res = server.call("POST", path, admin, Some(&body));
        assert_eq!(res.status, 400, "{path} {body}: {}", res.body);
        assert!(res.json()["error"].is_string(), "{}", res.body);
    }
    let project = json!({"name": "web", "repo": "/srv/web.git"});
    assert_eq!(server.call("POST", "/api/v1/projects", admin, Some(&project)).status, 201);
    for key in ["1A", "A-B", "É"] {
        let res = server.call("PUT", &format!("/api/v1/projects/web/vars/{key}"), admin, Some(&json!({"value": "v"})));
        assert_eq!(res.status, 400, "{key}: {}", res.body);
    }

    let document = served_document(&server);
    let schemas = &document["components"]["schemas"];
    let name = component(&document, &schemas["NewProjectBody"]["properties"]["name"]);
    assert_eq!(
        (&name["pattern"], &name["minLength"], &name["maxLength"]),
        (&json!(ferry_proto::names::NAME_PATTERN), &json!(1), &json!(100))
    );
    let runner = component(&document, &schemas["RunnerRegistration"]["properties"]["name"]);
    assert_eq!(runner, name);
    for text in [&schemas["NewProjectBody"]["properties"]["repo"], &schemas["NewTokenBody"]["properties"]["name"]] {
        let text = component(&document, text);
        assert_eq!((&text["pattern"], &text["minLength"]), (&json!(ferry_proto::names::TEXT_PATTERN), &json!(1)));
    }
    let role = component(&document, &schemas["NewTokenBody"]["properties"]["role"]);
    assert_eq!(role["enum"], json!(["viewer", "developer", "admin"]));
    for (method, path) in [
        ("put", "/api/v1/projects/{name}/secrets/{key}"),
        ("put", "/api/v1/projects/{name}/vars/{key}"),
        ("get", "/api/v1/projects/{name}/vars/{key}"),
    ] {
        let key = component(&document, &parameter(operation(&document, method, path), "key")["schema"]);
        assert_eq!(key["pattern"], json!(ferry_proto::names::KEY_PATTERN), "{method} {path}");
    }
}

#[test]
fn issue_13_ids_past_i64_are_refused_with_a_documented_400() {
    let server = TestServer::start();
    let admin = Some(server.admin.as_str());
    let past = "9223372036854775808";
    for (method, path) in [
        ("GET", format!("/api/v1/runs/{past}")),
        ("POST", format!("/api/v1/runs/{past}/cancel")),
        ("GET", format!("/api/v1/runs/{past}/logs")),
        ("DELETE", format!("/api/v1/tokens/{past}")),
    ] {
        let res = server.call(method, &path, admin, None);
        assert_eq!(res.status, 400, "{method} {path}: {}", res.body);
        assert!(res.json()["error"].is_string(), "{}", res.body);
    }
    let res = server.call("GET", "/api/v1/runs/9223372036854775807", admin, None);
    assert_eq!(res.status, 404, "{}", res.body);

    let document = served_document(&server);
    let id = &document["components"]["schemas"]["Id"];
    assert_eq!(
        (&id["type"], &id["format"], &id["minimum"], &id["maximum"]),
        (&json!("integer"), &json!("int64"), &json!(1), &json!(i64::MAX))
    );
    for (method, path) in [("get", "/api/v1/runs/{id}"), ("delete", "/api/v1/tokens/{id}")] {
        let operation = operation(&document, method, path);
        assert_eq!(parameter(operation, "id")["schema"]["$ref"], "#/components/schemas/Id", "{method} {path}");
        assert!(operation["responses"]["400"].is_object(), "{method} {path} does not document 400");
    }
}

#[test]
fn issue_13_rerunning_a_run_that_has_not_completed_is_a_conflict() {
    let (server, _repo) = server_with_project();
    let developer = server.token("developer");
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&developer), Some(&json!({})));
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    for body in [json!({"failed_only": true}), json!({})] {
        let res = server.call("POST", &format!("/api/v1/runs/{id}/rerun"), Some(&developer), Some(&body));
        assert_eq!(res.status, 409, "{body}: {}", res.body);
        let error = res.json()["error"].as_str().expect("an error").to_owned();
        assert!(error.starts_with(&format!("run {id} is still ")), "{error}");
    }
    let document = served_document(&server);
    assert!(operation(&document, "post", "/api/v1/runs/{id}/rerun")["responses"]["409"].is_object());
}

#[test]
fn issue_13_query_parameters_are_documented_in_the_query_and_optional() {
    let (server, _repo) = server_with_project();
    let document = served_document(&server);
    for (path, names) in
        [("/api/v1/projects/{name}/runs", ["before", "limit"]), ("/api/v1/runs/{id}/logs", ["job", "follow"])]
    {
        for name in names {
            let parameter = parameter(operation(&document, "get", path), name);
            assert_eq!((&parameter["in"], &parameter["required"]), (&json!("query"), &json!(false)), "{path} {name}");
        }
    }
    let res = server.call("GET", "/api/v1/projects/web/runs?limit=x", Some(&server.admin), None);
    assert_eq!(res.status, 400, "{}", res.body);
    assert!(res.json()["error"].is_string(), "{}", res.body);
}

#[test]
fn a_claim_waits_at_most_what_the_document_says_and_takes_whole_numbers_written_as_floats() {
    let server = TestServer::start();
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    assert_eq!(runner.call("/api/v1/runner/claim", &json!({"wait_ms": 0.0})).status, 204);
    let over = runner.call("/api/v1/runner/claim", &json!({"wait_ms": 30_001}));
    assert_eq!(over.status, 400, "{}", over.body);
    assert_eq!(over.json()["error"], "wait_ms 30001 is over 30000, the longest a claim waits");
    let half = runner.call("/api/v1/runner/claim", &json!({"wait_ms": 0.5}));
    assert_eq!(half.status, 400, "{}", half.body);

    let document = served_document(&server);
    let claim = &document["components"]["schemas"]["ClaimRequest"]["properties"]["wait_ms"];
    assert_eq!(claim["maximum"], json!(ferry_proto::runner::MAX_CLAIM_WAIT_MS), "{claim}");
}

#[test]
fn a_body_integer_past_i64_is_refused_not_rounded_to_its_limit() {
    let repo = TestRepo::new(&[("README", "one")]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let auth = format!("Bearer {}", server.admin);
    let send = |started_at: &str| {
        let body = format!(
            r#"{{"incidents": [{{"service": "web", "environment": "production", "started_at": {started_at}}}]}}"#
        );
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        server.request("POST", "/api/v1/projects/web/dora/events", &headers, body.as_bytes())
    };
    // -2^63 - 1 parses as a float that rounds to i64::MIN: it must not become that integer.
    for started_at in ["-9223372036854775809", "9223372036854775808.0"] {
        let res = send(started_at);
        assert_eq!(res.status, 400, "{started_at}: {}", res.body);
    }
    // A whole float within 2^53 is still the integer it spells.
    let res = send("1.7e12");
    assert_eq!(res.status, 201, "{}", res.body);
}
