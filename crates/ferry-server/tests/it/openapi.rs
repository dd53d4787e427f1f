//! `GET /api/v1/openapi.json`: the document is served to any token, and it describes every
//! route of the server's route table, and no other.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::TestServer;

/// The served document, fetched with the weakest role that may read it.
pub(crate) fn served_document(server: &TestServer) -> Value {
    let viewer = server.token("viewer");
    let res = server.call("GET", "/api/v1/openapi.json", Some(&viewer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/json"));
    res.json()
}

/// The keys of a path item that are operations.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Every operation of the document, as (method, path, operation).
fn operations(document: &Value) -> Vec<(&'static str, &str, &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.into_iter().filter_map(move |method| Some((method, path.as_str(), item.get(method)?)))
        })
        .collect()
}

#[test]
fn a_viewer_gets_an_openapi_3_document() {
    let server = TestServer::start();
    let document = served_document(&server);
    let version = document["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3."), "openapi {version}");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!((&bearer["type"], &bearer["scheme"]), (&json!("http"), &json!("bearer")), "{bearer}");
    assert!(document["components"]["schemas"]["ErrorBody"].is_object(), "no ErrorBody schema");
}

/// The whole document, so that a change to the API shows in review; the version is left out
/// so that releases do not churn it.
#[test]
fn the_document_as_served() {
    let server = TestServer::start();
    let mut document = served_document(&server);
    document["info"]["version"] = json!("[version]");
    let text = serde_json::to_string_pretty(&document).expect("a document prints");
    insta::assert_snapshot!("openapi.json", text);
}

#[test]
fn the_document_needs_a_token() {
    let server = TestServer::start();
    let res = server.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(res.status, 401, "{}", res.body);
    assert!(res.json()["error"].is_string());
}

#[test]
fn the_document_describes_every_route_of_the_route_table_and_no_other() {
    let server = TestServer::start();
    let document = served_document(&server);
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(method, path, _)| (method.to_ascii_uppercase(), path.to_owned()))
        .collect();
    let routed: BTreeSet<(String, String)> =
        ferry_server::routes().into_iter().map(|(method, path)| (method, path.to_owned())).collect();
    assert_eq!(documented, routed);
}

#[test]
fn api_operations_require_the_bearer_token_and_the_others_do_not() {
    let server = TestServer::start();
    let document = served_document(&server);
    for (method, path, operation) in operations(&document) {
        let security = &operation["security"];
        if path.starts_with("/_apis/artifactcache/") || path.starts_with("/twirp/") {
            assert_eq!(security, &json!([{"runtime": []}]), "{method} {path} takes a job's runtime token");
            assert!(operation["responses"].get("401").is_some(), "{method} {path} does not document 401");
        } else if path.starts_with("/api/v1/runner/") {
            assert_eq!(security, &json!([{"runner": []}]), "{method} {path} takes a runner token");
            assert!(operation["responses"].get("401").is_some(), "{method} {path} does not document 401");
        } else if path.starts_with("/api/v1/agent/") {
            assert_eq!(security, &json!([{"agent": []}]), "{method} {path} takes an agent token");
            assert!(operation["responses"].get("401").is_some(), "{method} {path} does not document 401");
        } else if path.starts_with("/api/") || path.starts_with("/prometheus/") || path.starts_with("/alertmanager/") {
            assert_eq!(security, &json!([{"bearer": []}]), "{method} {path}");
            assert!(operation["responses"].get("401").is_some(), "{method} {path} does not document 401");
        } else {
            assert!(security.is_null(), "{method} {path} asks for {security}");
        }
    }
}

#[test]
fn every_operation_has_its_own_id() {
    let server = TestServer::start();
    let document = served_document(&server);
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id), "{method} {path} reuses the operationId {id}");
    }
}

/// Each kind of route documents the refusals every route of its kind can answer (see the
/// response sets in `api.rs`), so a new route that forgets one fails here.
#[test]
fn every_operation_documents_the_refusals_of_its_kind() {
    let server = TestServer::start();
    let document = served_document(&server);
    for (method, path, operation) in operations(&document) {
        let responses = &operation["responses"];
        let documents = |status: &str| responses.get(status).is_some();
        if path.starts_with("/api/") {
            assert!(documents("401") && documents("500"), "{method} {path}: no 401 or 500 (`Refusals`)");
        }
        let has_parameters = operation["parameters"].as_array().is_some_and(|parameters| !parameters.is_empty());
        if has_parameters || operation.get("requestBody").is_some() {
            assert!(documents("400"), "{method} {path} takes parameters or a body and does not document 400");
        }
        // (A webhook's body is JSON too, but read as bytes, whatever its content type.)
        if path.starts_with("/api/") && operation["requestBody"]["content"].get("application/json").is_some() {
            assert!(documents("413") && documents("415"), "{method} {path}: no 413 or 415 (`BodyRefusals`)");
        }
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            if parameter["name"] == "id" {
                assert_eq!(parameter["schema"]["$ref"], "#/components/schemas/Id", "{method} {path}");
            }
        }
    }
}

/// Whatever a viewer's call to any API route answers (403 for the routes that need more,
/// 404 for what does not exist, 400, 415…) is documented for that route.
#[test]
fn every_status_a_viewer_gets_is_documented() {
    let server = TestServer::start();
    let document = served_document(&server);
    let viewer = server.token("viewer");
    let auth = format!("Bearer {viewer}");
    for (method, path, operation) in operations(&document) {
        if !path.starts_with("/api/") || path.starts_with("/api/v1/runner/") {
            continue;
        }
        let url = path.replace("{id}", "1").replace("{name}", "web").replace("{key}", "KEY");
        let json = operation["requestBody"]["content"].get("application/json").is_some();
        let mut headers = vec![("Authorization", auth.as_str())];
        if json {
            headers.push(("Content-Type", "application/json"));
        }
        let res = server.request(&method.to_ascii_uppercase(), &url, &headers, if json { b"{}" } else { b"" });
        let status = res.status.to_string();
        assert!(
            operation["responses"].get(&status).is_some(),
            "{method} {url} answered {status}, undocumented: {}",
            res.body
        );
    }
}
