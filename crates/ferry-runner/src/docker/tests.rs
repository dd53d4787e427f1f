//! The pure parts of talking to the engine; the engine itself is exercised by the crate's
//! integration tests (`tests/it/containers.rs`).

use super::*;

#[test]
fn image_references_split_into_name_and_tag() {
    assert_eq!(split_tag("postgres"), ("postgres", "latest"));
    assert_eq!(split_tag("postgres:16"), ("postgres", "16"));
    assert_eq!(split_tag("localhost:5000/team/app"), ("localhost:5000/team/app", "latest"));
    assert_eq!(split_tag("localhost:5000/team/app:v1"), ("localhost:5000/team/app", "v1"));
    assert_eq!(split_tag("app@sha256:abc"), ("app@sha256:abc", ""));
}

#[tokio::test]
async fn an_engine_that_is_not_there_is_named_with_how_to_fix_it() {
    let error = Engine::connect(Some("unix:///nonexistent/docker.sock")).await.expect_err("no engine there");
    let message = error.to_string();
    assert!(message.contains("unix:///nonexistent/docker.sock"), "{message}");
    assert!(message.contains("DOCKER_HOST"), "{message}");
}

#[test]
fn a_bridge_without_a_gateway_has_its_subnets_first_address() {
    assert_eq!(first_address("172.17.0.0/16"), Some("172.17.0.1".parse().expect("an address")));
    assert_eq!(first_address("10.9.8.77/24"), Some("10.9.8.1".parse().expect("an address")));
    assert_eq!(first_address("10.9.8.0/31"), None);
    assert_eq!(first_address("fd00::/64"), None);
    assert_eq!(first_address("nonsense"), None);
}
