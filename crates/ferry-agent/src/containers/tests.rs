//! What the agent says when an image or the engine is missing; the engine itself is exercised
//! by the `ferry` crate's `agent_images` tests.

use super::*;

#[tokio::test]
async fn no_engine_says_where_it_looked_and_what_to_do() {
    let error = ferry_docker::Engine::connect(Some("unix:///nonexistent/docker.sock"))
        .await
        .map_err(ContainerError::from)
        .expect_err("no engine there");
    assert!(
        matches!(&error, ContainerError::NoEngine { endpoint, .. } if endpoint == "unix:///nonexistent/docker.sock")
    );
    let message = error.to_string();
    // The `agent_images` test and users read this text.
    assert!(message.starts_with("no Docker Engine answers at unix:///nonexistent/docker.sock ("), "{message}");
    assert!(message.ends_with("point DOCKER_HOST at its socket before starting the agent"), "{message}");
}

#[test]
fn a_missing_image_says_how_to_ship_one() {
    let error =
        ContainerError::ImageMissing { image: "web:1".to_owned(), endpoint: "unix:///var/run/docker.sock".to_owned() };
    assert_eq!(
        error.to_string(),
        "the image `web:1` is not in the Docker Engine at unix:///var/run/docker.sock, and the agent does not pull: \
         load it on this host (`docker pull web:1` or `docker load`), or ship it in the release with \
         `image: { archive: FILE }` (a `docker save` archive)"
    );
}

#[test]
fn a_failed_load_names_the_archive_and_the_release() {
    let error = ContainerError::Load {
        archive: "web.tar".to_owned(),
        release: 7,
        source: DockerError::SeveralImagesLoaded { images: vec!["a:1".to_owned(), "b:1".to_owned()] },
    };
    assert_eq!(
        error.to_string(),
        "loading `web.tar` of release 7: it holds 2 images (a:1, b:1): save one image per archive"
    );
}

#[test]
fn container_names_keep_only_what_the_engine_allows() {
    let key = UnitKey { project: "my shop".to_owned(), service: "web".to_owned(), environment: "prod".to_owned() };
    assert_eq!(container_name(&key, "r1/2"), "ferry-my-shop-r1-2");
    assert_eq!(unit_label(&key), "my shop/web/prod");
}
