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
