//! Container images for tests, built on this machine (no registry is reachable): `FROM
//! scratch` with Debian's statically linked busybox, so a container has `sh` and the usual
//! tools. Built once per machine under a file lock, so tests running in parallel processes
//! do not race; every image carries the label [`TEST_LABEL`].

use std::collections::HashMap;
use std::sync::OnceLock;

use bollard::Docker;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt as _;

/// The tag [`busybox_image`] builds.
pub const BUSYBOX_IMAGE: &str = "ferry-test/busybox:1";

/// The label on everything tests make, so it can be found and removed.
pub const TEST_LABEL: &str = "ferry.test";

/// Where Debian's `busybox-static` puts its binary (`apt-get install busybox-static`).
const BUSYBOX: &str = "/bin/busybox";

const DOCKERFILE: &str = "FROM scratch\n\
COPY busybox /bin/busybox\n\
RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/usr/bin\", \"/sbin\", \"/tmp\", \"/root\"]\n\
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin\n\
CMD [\"sh\"]\n";

/// The tag of a busybox image on the local engine, built if missing. Panics with what to do
/// when the engine or busybox is missing: it only runs inside tests.
pub fn busybox_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(build_busybox());
        })
        .join()
        .expect("building the busybox test image");
    });
    BUSYBOX_IMAGE
}

/// The tag `tag` of an image: [`busybox_image`] with the host's `files` copied in at their
/// paths (symbolic links followed), such as the libraries a host program links, built if
/// missing. Panics when a file cannot be read or the build fails: it only runs inside tests.
pub fn busybox_image_with(tag: &str, files: &[&std::path::Path]) -> String {
    let base = busybox_image();
    let mut archive = tar::Builder::new(Vec::new());
    let dockerfile = format!("FROM {base}\nCOPY root/ /\n");
    let mut entries = vec![("Dockerfile".to_owned(), dockerfile.into_bytes(), 0o644)];
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        entries.push((format!("root{}", file.display()), bytes, 0o755));
    }
    for (name, bytes, mode) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        archive.append_data(&mut header, name, &bytes[..]).expect("packing the build context");
    }
    let archive = archive.into_inner().expect("packing the build context");
    let tag = tag.to_owned();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async {
                    let docker = engine().await;
                    let options = BuildImageOptions {
                        t: Some(tag.clone()),
                        rm: true,
                        forcerm: true,
                        labels: Some(HashMap::from([(TEST_LABEL.to_owned(), "1".to_owned())])),
                        ..BuildImageOptions::default()
                    };
                    let mut build = docker.build_image(options, None, Some(bollard::body_full(archive.into())));
                    while let Some(info) = build.next().await {
                        let info = info.unwrap_or_else(|error| panic!("building {tag}: {error}"));
                        if let Some(detail) = info.error_detail {
                            panic!("building {tag}: {}", detail.message.unwrap_or_default());
                        }
                    }
                });
            })
            .join()
            .expect("building the image");
    });
    tag
}

/// The ids of the containers (running or not) and networks labelled `label=value` on the
/// local engine, for checking that nothing was left behind.
pub fn labelled(label: &str, value: &str) -> (Vec<String>, Vec<String>) {
    let filter = format!("{label}={value}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async {
                    let docker = engine().await;
                    let filters = HashMap::from([("label".to_owned(), vec![filter.clone()])]);
                    let containers = docker
                        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                            all: true,
                            filters: Some(filters.clone()),
                            ..Default::default()
                        }))
                        .await
                        .expect("listing containers");
                    let networks = docker
                        .list_networks(Some(bollard::query_parameters::ListNetworksOptions { filters: Some(filters) }))
                        .await
                        .expect("listing networks");
                    (
                        containers.into_iter().filter_map(|container| container.id).collect(),
                        networks.into_iter().filter_map(|network| network.id).collect(),
                    )
                })
            })
            .join()
            .expect("asking the engine")
    })
}

/// Builds `tag` from `dockerfile` (its `FROM` may name [`busybox_image`]), labelled
/// [`TEST_LABEL`]`=label`, writes it to `dest` as `docker save` does and removes the tag from
/// the engine, so whatever runs it must load the archive. Panics saying what failed.
pub fn saved_image(tag: &str, dockerfile: &str, label: &str, dest: &std::path::Path) {
    on_engine(|docker| async move {
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.append_data(&mut header, "Dockerfile", dockerfile.as_bytes()).expect("packing the build context");
        let archive = archive.into_inner().expect("packing the build context");
        let options = BuildImageOptions {
            t: Some(tag.to_owned()),
            rm: true,
            forcerm: true,
            labels: Some(HashMap::from([(TEST_LABEL.to_owned(), label.to_owned())])),
            ..BuildImageOptions::default()
        };
        let mut build = docker.build_image(options, None, Some(bollard::body_full(archive.into())));
        while let Some(info) = build.next().await {
            let info = info.unwrap_or_else(|error| panic!("building {tag}: {error}"));
            if let Some(detail) = info.error_detail {
                panic!("building {tag}: {}", detail.message.unwrap_or_default());
            }
        }
        let mut saved = Vec::new();
        let mut export = docker.export_image(tag);
        while let Some(chunk) = export.next().await {
            saved.extend_from_slice(&chunk.unwrap_or_else(|error| panic!("saving {tag}: {error}")));
        }
        std::fs::write(dest, saved).unwrap_or_else(|error| panic!("writing {}: {error}", dest.display()));
        docker
            .remove_image(tag, None::<bollard::query_parameters::RemoveImageOptions>, None)
            .await
            .unwrap_or_else(|error| panic!("removing {tag}: {error}"));
    });
}

/// Removes the containers labelled `label=value` (running or not) and the images labelled
/// [`TEST_LABEL`]`=image_label`: what a test made, whatever state it ended in.
pub fn remove_labelled(label: &str, value: &str, image_label: &str) {
    on_engine(|docker| async move {
        let (containers, _) = labelled(label, value);
        for id in containers {
            let options = bollard::query_parameters::RemoveContainerOptions { force: true, ..Default::default() };
            let _ = docker.remove_container(&id, Some(options)).await;
        }
        let filters = HashMap::from([("label".to_owned(), vec![format!("{TEST_LABEL}={image_label}")])]);
        let options = bollard::query_parameters::ListImagesOptions { filters: Some(filters), ..Default::default() };
        for image in docker.list_images(Some(options)).await.unwrap_or_default() {
            let options = bollard::query_parameters::RemoveImageOptions { force: true, ..Default::default() };
            let _ = docker.remove_image(&image.id, Some(options), None).await;
        }
    });
}

/// Runs `work` with the local engine on a runtime of its own (tests may call it from inside
/// theirs).
pub(crate) fn on_engine<'a, F: Future<Output = ()> + 'a>(work: impl FnOnce(Docker) -> F + Send + 'a) {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
                runtime.block_on(async { work(engine().await).await });
            })
            .join()
            .expect("asking the engine");
    });
}

async fn build_busybox() {
    let docker = engine().await;
    // Another test process may be building it: one at a time, and the second finds it built.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("ferry-test-busybox.lock"))
        .expect("opening the image lock file");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("locking the image lock file");
    if docker.inspect_image(BUSYBOX_IMAGE).await.is_ok() {
        return;
    }
    let busybox = std::fs::read(BUSYBOX)
        .unwrap_or_else(|error| panic!("{BUSYBOX}: {error}; install it with `apt-get install busybox-static`"));
    let mut archive = tar::Builder::new(Vec::new());
    for (name, bytes, mode) in [("Dockerfile", DOCKERFILE.as_bytes(), 0o644), ("busybox", &busybox[..], 0o755)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        archive.append_data(&mut header, name, bytes).expect("packing the build context");
    }
    let archive = archive.into_inner().expect("packing the build context");
    let options = BuildImageOptions {
        t: Some(BUSYBOX_IMAGE.to_owned()),
        rm: true,
        forcerm: true,
        labels: Some(HashMap::from([(TEST_LABEL.to_owned(), "1".to_owned())])),
        ..BuildImageOptions::default()
    };
    let mut build = docker.build_image(options, None, Some(bollard::body_full(archive.into())));
    while let Some(info) = build.next().await {
        let info = info.expect("building the busybox test image");
        if let Some(detail) = info.error_detail {
            panic!("building the busybox test image: {}", detail.message.unwrap_or_default());
        }
    }
}

/// The local engine (`DOCKER_HOST` or `/var/run/docker.sock`); panics saying how to start one.
async fn engine() -> Docker {
    let docker = match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => Docker::connect_with_unix(&host, 600, bollard::API_DEFAULT_VERSION),
        _ => Docker::connect_with_unix("unix:///var/run/docker.sock", 600, bollard::API_DEFAULT_VERSION),
    }
    .expect("connecting to the container engine");
    let docker = docker
        .negotiate_version()
        .await
        .unwrap_or_else(|error| panic!("no container engine for the tests ({error}); start Docker Engine"));
    docker
        .ping()
        .await
        .unwrap_or_else(|error| panic!("no container engine for the tests ({error}); start Docker Engine"));
    docker
}
