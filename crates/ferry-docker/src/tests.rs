//! The pure parts of talking to the engine, and what its errors say; the engine itself is
//! exercised by the runner's and the agent's integration tests.

use super::*;
use crate::image::split_tag;

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
    assert!(
        matches!(&error, DockerError::Unreachable { endpoint, .. } if endpoint == "unix:///nonexistent/docker.sock"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.starts_with("no container engine reachable at unix:///nonexistent/docker.sock ("), "{message}");
    assert!(message.contains("DOCKER_HOST"), "{message}");
    assert!(!error.is_not_found());
}

#[tokio::test]
async fn only_unix_and_tcp_endpoints_are_tried() {
    let error = Engine::connect(Some("ssh://host")).await.expect_err("ssh is not supported");
    assert!(
        matches!(&error, DockerError::Unreachable { reason, .. } if reason.contains("only unix:// and tcp://")),
        "{error:?}"
    );
}

#[test]
fn an_archive_of_several_images_names_them_and_says_what_to_do() {
    let error = DockerError::SeveralImagesLoaded { images: vec!["web:1".to_owned(), "db:2".to_owned()] };
    assert_eq!(error.to_string(), "it holds 2 images (web:1, db:2): save one image per archive");
}

#[test]
fn a_bridge_without_a_gateway_has_its_subnets_first_address() {
    use crate::container::first_address;
    assert_eq!(first_address("172.17.0.0/16"), Some("172.17.0.1".parse().expect("an address")));
    assert_eq!(first_address("10.9.8.77/24"), Some("10.9.8.1".parse().expect("an address")));
    assert_eq!(first_address("10.9.8.0/31"), None);
    assert_eq!(first_address("fd00::/64"), None);
    assert_eq!(first_address("nonsense"), None);
}
