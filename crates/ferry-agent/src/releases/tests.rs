//! Where a release's files go, and what is refused.

use ferry_proto::agent::{ProcessSpec, ReleaseSpec};
use ferry_proto::artifacts::ArtifactFile;

use super::*;

fn release(files: Vec<ArtifactFile>) -> ReleaseSpec {
    ReleaseSpec {
        number: 4,
        files,
        process: ProcessSpec::Run { command: "true".into() },
        env: std::collections::BTreeMap::new(),
        secret_keys: vec![],
    }
}

#[test]
fn paths_that_leave_the_release_folder_are_refused() {
    let root = Path::new("/r");
    assert_eq!(inside(root, "bin/server").expect("inside"), Path::new("/r/bin/server"));
    for bad in ["../x", "/etc/passwd", "a/../../x", "", "./a"] {
        let err = inside(root, bad).expect_err("it fails");
        assert!(matches!(&err, ReleaseError::UnsafePath { path } if path == bad), "{bad}: {err:?}");
        assert!(err.to_string().contains("not a plain relative path"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn a_release_without_files_is_an_empty_folder_and_files_need_a_server() {
    let temp = tempfile::tempdir().expect("tempdir");
    let folder = temp.path().join("p/web/4");
    ensure(&folder, &release(vec![]), None).await.expect("an answer");
    assert!(folder.is_dir());
    let other = temp.path().join("p/web/5");
    let file = ArtifactFile { path: "server.py".into(), sha256: "0".repeat(64), size: 1, mode: 0o644 };
    let err = ensure(&other, &release(vec![file]), None).await.expect_err("it fails");
    assert!(matches!(err, ReleaseError::NoServer { release: 4 }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the files of release 4 are not on this host and there is no server to fetch them from"
    );
    assert!(!other.exists(), "nothing half-made stays");
    assert!(!temp.path().join("p/web/.5.partial").exists());
}
