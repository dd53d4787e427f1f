//! Artifacts through the server: a runner uploads blobs and a manifest for the job it holds
//! and reads them back, people list a run's artifacts and download one as a tar (checked with
//! the system's `tar`), refusals store nothing, and the sweep deletes expired artifacts and
//! the blobs only they referenced.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
"#;

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A server with project `web` whose dispatched run `run_id` has its job claimed by `runner`.
struct Claimed<'a> {
    server: &'a TestServer,
    runner: ProtocolRunner<'a>,
    run_id: i64,
    job_id: i64,
}

fn start(configure: impl FnOnce(&mut ferry_server::ServerConfig)) -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = crate::hooks::with_repo_project(TestServer::start_configured(configure), &repo.path());
    (server, repo)
}

fn claimed(server: &TestServer) -> Claimed<'_> {
    dispatched(server, "r1", None)
}

/// Dispatches `ci.yml` on `git_ref` (the project's branch when `None`) and claims the run's
/// job as a new runner `runner`.
fn dispatched<'a>(server: &'a TestServer, runner: &str, git_ref: Option<&str>) -> Claimed<'a> {
    let body = json!({"workflow": "ci.yml", "git_ref": git_ref});
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let run_id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    claim_as(server, runner, run_id)
}

/// Claims run `run_id`'s job, the only one queued, as a new runner `runner`.
fn claim_as<'a>(server: &'a TestServer, runner: &str, run_id: i64) -> Claimed<'a> {
    let runner = ProtocolRunner::register(server, runner, &["linux"]);
    let job = runner.claim(1000).expect("the build job");
    assert_eq!(job["run_id"].as_i64(), Some(run_id), "{job}");
    let job_id = job["job_id"].as_i64().expect("a job id");
    Claimed { server, runner, run_id, job_id }
}

impl Claimed<'_> {
    /// Uploads `bytes` as a blob; the status.
    fn put_blob(&self, digest: &str, bytes: &[u8]) -> u16 {
        let res = self.runner.request("PUT", &format!("/api/v1/runner/blobs/{digest}"), bytes);
        assert!(res.status == 204 || res.body.contains("error"), "{res:?}");
        res.status
    }

    /// Uploads `files` (path, bytes) as blobs and then the artifact `name`; the answer.
    fn artifact(&self, name: &str, files: &[(&str, &str)]) -> crate::Response {
        for (_, text) in files {
            assert_eq!(self.put_blob(&sha256(text.as_bytes()), text.as_bytes()), 204);
        }
        self.manifest(name, files)
    }

    /// Posts the manifest of `files` as the artifact `name`, without uploading anything.
    fn manifest(&self, name: &str, files: &[(&str, &str)]) -> crate::Response {
        self.manifest_with(name, files, &json!({}))
    }

    /// [`Claimed::manifest`] with the fields of `extra` (`retention_days`, `overwrite`).
    fn manifest_with(&self, name: &str, files: &[(&str, &str)], extra: &Value) -> crate::Response {
        let files: Vec<Value> = files
            .iter()
            .map(|(path, text)| json!({"path": path, "sha256": sha256(text.as_bytes()), "size": text.len(), "mode": 0o644}))
            .collect();
        let mut body = json!({"name": name, "files": files});
        for (field, value) in extra.as_object().expect("an object") {
            body[field] = value.clone();
        }
        self.runner.call(&format!("/api/v1/runner/jobs/{}/artifacts", self.job_id), &body)
    }

    /// Uploads `files` and then the artifact `name` with the fields of `extra`; the answer.
    fn artifact_with(&self, name: &str, files: &[(&str, &str)], extra: &Value) -> crate::Response {
        for (_, text) in files {
            assert_eq!(self.put_blob(&sha256(text.as_bytes()), text.as_bytes()), 204);
        }
        self.manifest_with(name, files, extra)
    }

    /// Uploads `files` (path, bytes) as blobs and saves them as the cache entry `key`; the answer.
    fn save_cache(&self, key: &str, files: &[(&str, &str)]) -> crate::Response {
        for (_, text) in files {
            assert_eq!(self.put_blob(&sha256(text.as_bytes()), text.as_bytes()), 204);
        }
        let files: Vec<Value> = files
            .iter()
            .map(|(path, text)| json!({"path": path, "sha256": sha256(text.as_bytes()), "size": text.len(), "mode": 0o644}))
            .collect();
        self.runner.call(&format!("/api/v1/runner/jobs/{}/cache", self.job_id), &json!({"key": key, "files": files}))
    }

    /// The key of the entry a lookup restores and the digest of its first file, if any.
    fn lookup_entry(&self, key: &str, restore_keys: &[&str]) -> Option<(String, String)> {
        let body = json!({"key": key, "restore_keys": restore_keys});
        let res = self.runner.call(&format!("/api/v1/runner/jobs/{}/cache/lookup", self.job_id), &body);
        match res.status {
            204 => None,
            200 => Some((
                res.json()["key"].as_str().expect("a key").to_owned(),
                res.json()["files"][0]["sha256"].as_str().expect("a file").to_owned(),
            )),
            status => panic!("lookup answered {status}: {}", res.body),
        }
    }

    /// The key of the entry a lookup restores, or `204` for none.
    fn lookup_cache(&self, key: &str, restore_keys: &[&str]) -> String {
        let body = json!({"key": key, "restore_keys": restore_keys});
        let res = self.runner.call(&format!("/api/v1/runner/jobs/{}/cache/lookup", self.job_id), &body);
        match res.status {
            204 => "204".to_owned(),
            200 => res.json()["key"].as_str().expect("a key").to_owned(),
            status => panic!("lookup answered {status}: {}", res.body),
        }
    }

    fn blob_file(&self, digest: &str) -> PathBuf {
        self.server.dir.path().join("data/blobs/sha256").join(&digest[..2]).join(digest)
    }

    /// `name size job [paths]` of each artifact the API lists for the run.
    fn listed(&self) -> Vec<String> {
        let res =
            self.server.call("GET", &format!("/api/v1/runs/{}/artifacts", self.run_id), Some(&self.server.admin), None);
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|artifact| {
                let paths: Vec<&str> = artifact["files"]
                    .as_array()
                    .expect("files")
                    .iter()
                    .map(|file| file["path"].as_str().expect("a path"))
                    .collect();
                format!(
                    "{} {} {} {paths:?}",
                    artifact["name"].as_str().expect("a name"),
                    artifact["size"],
                    artifact["job"]
                )
            })
            .collect()
    }
}

/// Adds project `api` on the same repository as `web`.
fn add_api_project(server: &TestServer, repo: &TestRepo) {
    let body = json!({"name": "api", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
}

/// Dispatches project `api`'s `ci.yml` and claims its job as a runner scoped to `api`.
fn claimed_for_api(server: &TestServer) -> Claimed<'_> {
    let res =
        server.call("POST", "/api/v1/projects/api/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let api_runner = ProtocolRunner::register_for(server, "api-1", &["linux"], Some(&["api"]));
    let api_job = api_runner.claim(1000).expect("project api's job");
    Claimed {
        server,
        runner: api_runner,
        run_id: api_job["run_id"].as_i64().expect("a run id"),
        job_id: api_job["job_id"].as_i64().expect("a job id"),
    }
}

#[test]
fn a_runner_uploads_blobs_and_a_manifest_and_reads_them_back() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    let missing = job.runner.call("/api/v1/runner/blobs/missing", &json!({"digests": [sha256(b"hello\n")]}));
    assert_eq!(missing.json()["digests"], json!([sha256(b"hello\n")]));

    let res = job.artifact("out", &[("a.txt", "hello\n"), ("dir/b.txt", "world\n")]);
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!((res.json()["name"].clone(), res.json()["size"].clone()), (json!("out"), json!(12)));
    let missing = job.runner.call("/api/v1/runner/blobs/missing", &json!({"digests": [sha256(b"hello\n")]}));
    assert_eq!(missing.json()["digests"], json!([]));
    // Uploading a blob again keeps the one stored.
    assert_eq!(job.put_blob(&sha256(b"hello\n"), b"hello\n"), 204);

    let listed = job.runner.request("GET", &format!("/api/v1/runner/jobs/{}/artifacts", job.job_id), b"");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let files = &listed.json()[0]["files"];
    assert_eq!(files[1], json!({"path": "dir/b.txt", "sha256": sha256(b"world\n"), "size": 6, "mode": 0o644}));
    let blob = job.runner.request("GET", &format!("/api/v1/runner/blobs/{}", sha256(b"world\n")), b"");
    assert_eq!((blob.status, blob.body.as_str()), (200, "world\n"));
    let absent = job.runner.request("GET", &format!("/api/v1/runner/blobs/{}", sha256(b"absent")), b"");
    assert_eq!(absent.status, 404, "{}", absent.body);

    assert_eq!(job.listed(), [r#"out 12 "build" ["a.txt", "dir/b.txt"]"#]);
}

#[test]
fn a_runner_reads_only_the_blobs_of_what_its_jobs_may_read() {
    let (server, repo) = start(|_| {});
    add_api_project(&server, &repo);
    let web = claimed(&server);
    assert_eq!(web.artifact("dist", &[("app.js", "web's bundle\n")]).status, 201);
    assert_eq!(web.save_cache("deps", &[("lib", "web's deps\n")]).status, 201);
    let api = claimed_for_api(&server);
    assert_eq!(api.artifact("own", &[("own.txt", "api's own\n")]).status, 201);
    let get = |job: &Claimed<'_>, text: &str| {
        let res = job.runner.request("GET", &format!("/api/v1/runner/blobs/{}", sha256(text.as_bytes())), b"");
        assert!(res.status != 200 || res.body == text, "{res:?}");
        res.status
    };

    // Its own run's artifact, before and after listing; another project's files never, as
    // if the server did not have them.
    assert_eq!([get(&api, "api's own\n"), get(&api, "web's bundle\n"), get(&api, "web's deps\n")], [200, 404, 404]);
    let listed = api.runner.request("GET", &format!("/api/v1/runner/jobs/{}/artifacts", api.job_id), b"");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let refused = api.runner.request("GET", &format!("/api/v1/runner/blobs/{}", sha256(b"web's bundle\n")), b"");
    assert_eq!(refused.json()["error"], format!("blob {} not found", sha256(b"web's bundle\n")));
    assert_eq!([get(&web, "web's bundle\n"), get(&web, "web's deps\n"), get(&web, "api's own\n")], [200, 200, 404]);

    // A later run of web on the same branch restores the cache but reads no other run's artifact.
    let later = dispatched(&server, "r3", None);
    assert_eq!([get(&later, "web's deps\n"), get(&later, "web's bundle\n")], [200, 404]);

    // A runner whose job completed reads nothing of it any more.
    let res = web.runner.call(
        &format!("/api/v1/runner/jobs/{}/complete", web.job_id),
        &json!({"conclusion": "success", "outputs": {}}),
    );
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!([get(&web, "web's bundle\n"), get(&web, "web's deps\n")], [404, 404]);
}

#[test]
fn a_manifest_names_only_blobs_its_runner_uploaded_or_may_read() {
    let (server, repo) = start(|_| {});
    add_api_project(&server, &repo);
    let web = claimed(&server);
    assert_eq!(web.artifact("dist", &[("app.js", "web's bundle\n")]).status, 201);
    let api = claimed_for_api(&server);
    let web_digest = sha256(b"web's bundle\n");
    let missing = |job: &Claimed<'_>| {
        let res = job.runner.call("/api/v1/runner/blobs/missing", &json!({"digests": [web_digest]}));
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["digests"].as_array().expect("a list").len()
    };

    // To project api's runner, web's blob is missing as if the server did not have it, and a
    // manifest naming it is refused in the same words as one naming nothing uploaded.
    assert_eq!([missing(&web), missing(&api)], [0, 1]);
    let stolen = api.manifest("loot", &[("app.js", "web's bundle\n")]);
    assert_eq!(stolen.status, 422, "{}", stolen.body);
    assert_eq!(stolen.json()["error"], format!("blob {web_digest} of app.js was not uploaded"));
    let get = api.runner.request("GET", &format!("/api/v1/runner/blobs/{web_digest}"), b"");
    assert_eq!(get.status, 404, "{get:?}");

    // Uploading the same bytes proves the runner has them: then it may name the blob.
    assert_eq!(api.artifact("own", &[("app.js", "web's bundle\n")]).status, 201);
    assert_eq!(missing(&api), 0);
}

#[test]
fn a_run_s_artifact_downloads_as_a_tar_of_its_files() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    let long_dir = "d".repeat(120);
    let long_path = format!("{long_dir}/{}", "f".repeat(30));
    assert_eq!(
        job.artifact("out", &[("a.txt", "hello\n"), ("dir/b.txt", "world\n"), (&long_path, "deep\n")]).status,
        201
    );

    let viewer = server.token("viewer");
    let res = server.call("GET", &format!("/api/v1/runs/{}/artifacts/out", job.run_id), Some(&viewer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/x-tar"));
    assert_eq!(res.header("content-disposition"), Some(r#"attachment; filename="out.tar""#));
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("out.tar");
    std::fs::write(&archive, res.body.as_bytes()).expect("writing the archive");
    let out =
        std::process::Command::new("tar").arg("-xf").arg(&archive).current_dir(dir.path()).output().expect("tar runs");
    assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
    let read = |path: &str| std::fs::read_to_string(dir.path().join(path)).expect("an extracted file");
    assert_eq!([read("a.txt"), read("dir/b.txt"), read(&long_path)], ["hello\n", "world\n", "deep\n"]);

    let absent = server.call("GET", &format!("/api/v1/runs/{}/artifacts/nope", job.run_id), Some(&viewer), None);
    assert_eq!(absent.status, 404, "{}", absent.body);
    assert_eq!(server.call("GET", &format!("/api/v1/runs/{}/artifacts/out", job.run_id), None, None).status, 401);
}

#[test]
fn a_blob_whose_bytes_have_another_digest_is_refused_and_nothing_is_stored() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    let digest = sha256(b"expected");
    let res = job.runner.request("PUT", &format!("/api/v1/runner/blobs/{digest}"), b"something else");
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["error"].as_str().expect("an error").contains(&sha256(b"something else")), "{}", res.body);
    let folder = job.blob_file(&digest).parent().expect("a folder").to_path_buf();
    let left: Vec<_> = std::fs::read_dir(&folder).map(|entries| entries.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let bad_name = job.runner.request("PUT", "/api/v1/runner/blobs/ABC", b"x");
    assert_eq!(bad_name.status, 400, "{}", bad_name.body);
    let admin = server.request(
        "PUT",
        &format!("/api/v1/runner/blobs/{digest}"),
        &[("Authorization", &format!("Bearer {}", server.admin))],
        b"expected",
    );
    assert_eq!(admin.status, 401, "only runners upload blobs");
}

#[test]
fn manifests_with_missing_blobs_unsafe_paths_or_a_taken_name_are_refused() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    assert_eq!(job.put_blob(&sha256(b"one\n"), b"one\n"), 204);
    let missing = job.manifest("out", &[("one.txt", "one\n"), ("two.txt", "two\n")]);
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert_eq!(missing.json()["error"], format!("blob {} of two.txt was not uploaded", sha256(b"two\n")));
    for path in ["../escape", "a/../../b", "/etc/passwd", "a//b", "./a"] {
        let res = job.manifest("out", &[(path, "one\n")]);
        assert_eq!(res.status, 400, "{path}: {}", res.body);
    }
    assert_eq!(job.manifest("bad/name", &[("one.txt", "one\n")]).status, 400);
    assert_eq!(job.manifest("out", &[("one.txt", "one\n")]).status, 201);
    let taken = job.manifest("out", &[("one.txt", "one\n")]);
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(job.listed(), [r#"out 4 "build" ["one.txt"]"#]);
}

#[test]
fn a_cache_lookup_takes_the_exact_key_then_the_newest_entry_of_each_restore_key_in_turn() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    for key in ["deps-a-1", "deps-a-2", "deps-b-1"] {
        let res = job.save_cache(key, &[("paths/0/lock", key)]);
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let lookups = [
        ("deps-a-1", &["deps-"][..]),
        ("deps-a-3", &["deps-a-"][..]),
        ("deps-a-3", &["deps-"][..]),
        ("deps-c-1", &["deps-c-", "deps-a-1", "deps-"][..]),
        ("deps-c-1", &["deps-c-"][..]),
        ("other", &[][..]),
    ];
    let found: Vec<String> = lookups.iter().map(|(key, restore_keys)| job.lookup_cache(key, restore_keys)).collect();
    assert_eq!(found, ["deps-a-1", "deps-a-2", "deps-b-1", "deps-a-1", "204", "204"]);

    let res = job.runner.call(&format!("/api/v1/runner/jobs/{}/cache/lookup", job.job_id), &json!({"key": "deps-b-1"}));
    assert_eq!(
        res.json()["files"],
        json!([{"path": "paths/0/lock", "sha256": sha256(b"deps-b-1"), "size": 8, "mode": 0o644}])
    );
}

#[test]
fn a_cache_key_is_saved_once_and_only_with_its_blobs_uploaded() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    assert_eq!(job.save_cache("k-1", &[("a", "first\n")]).status, 201);
    let again = job.save_cache("k-1", &[("a", "second\n")]);
    assert_eq!(again.status, 409, "{}", again.body);
    let missing =
        json!({"key": "k-2", "files": [{"path": "a", "sha256": sha256(b"absent"), "size": 6, "mode": 0o644}]});
    let res = job.runner.call(&format!("/api/v1/runner/jobs/{}/cache", job.job_id), &missing);
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(job.lookup_cache("k-2", &[]), "204");
    let res = job.runner.call(&format!("/api/v1/runner/jobs/{}/cache/lookup", job.job_id), &json!({"key": "k-1"}));
    assert_eq!(res.json()["files"][0]["sha256"], json!(sha256(b"first\n")));
    // A lookup takes the keys a save takes, as the document says; lengths are in characters.
    let lookup = |key: &str| {
        job.runner.call(&format!("/api/v1/runner/jobs/{}/cache/lookup", job.job_id), &json!({"key": key})).status
    };
    assert_eq!(
        [lookup("k-1,k-2"), lookup(""), lookup(&"é".repeat(512)), lookup(&"é".repeat(513))],
        [400, 400, 204, 400]
    );
}

#[test]
fn an_artifact_is_kept_the_days_it_asks_for_but_never_longer_than_the_server_keeps_artifacts() {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let (server, _repo) = start(|config| config.artifact_retention = Duration::from_secs(30 * 24 * 60 * 60));
    let job = claimed(&server);
    let kept_days = |res: crate::Response| {
        assert_eq!(res.status, 201, "{}", res.body);
        let view = res.json();
        (view["expires_at"].as_i64().expect("an expiry") - view["created_at"].as_i64().expect("a time")) / DAY_MS
    };
    let files = [("a.txt", "hello\n")];
    assert_eq!(kept_days(job.artifact_with("short", &files, &json!({"retention_days": 5}))), 5);
    assert_eq!(kept_days(job.artifact_with("long", &files, &json!({"retention_days": 365}))), 30, "capped");
    assert_eq!(kept_days(job.artifact_with("default", &files, &json!({}))), 30);
    let zero = job.manifest_with("zero", &files, &json!({"retention_days": 0}));
    assert_eq!(zero.status, 400, "{}", zero.body);
    assert_eq!(zero.json()["error"], "retention_days must be 1 to 3650; leave it out for the server's retention");
    let forever = job.manifest_with("forever", &files, &json!({"retention_days": 2_147_483_648_u64}));
    assert_eq!(forever.status, 400, "{}", forever.body);
    let listed = server.call("GET", &format!("/api/v1/runs/{}/artifacts", job.run_id), Some(&server.admin), None);
    let kept: Vec<(String, i64)> = listed
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|view| {
            let days = (view["expires_at"].as_i64().expect("an expiry") - view["created_at"].as_i64().expect("a time"))
                / DAY_MS;
            (view["name"].as_str().expect("a name").to_owned(), days)
        })
        .collect();
    assert_eq!(kept, [("default".to_owned(), 30), ("long".to_owned(), 30), ("short".to_owned(), 5)]);
}

/// A workflow that runs for dispatches and pull requests.
const DISPATCH_OR_PULL: &str = r#"
on: [workflow_dispatch, pull_request]
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
"#;

#[test]
fn cache_entries_are_scoped_by_ref_as_on_github() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", DISPATCH_OR_PULL)]);
    for branch in ["feature", "release", "other"] {
        repo.branch(branch);
    }
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let main = dispatched(&server, "on-main", None);
    let feature = dispatched(&server, "on-feature", Some("feature"));
    let release = dispatched(&server, "on-release", Some("release"));
    let other = dispatched(&server, "on-other", Some("other"));
    let saves = [
        (&main, "deps-1", "main's deps-1"),
        (&feature, "deps-2", "feature's deps-2"),
        (&feature, "deps-1", "feature's deps-1"),
        (&main, "deps-3", "main's deps-3"),
        (&release, "rel-1", "release's rel-1"),
    ];
    for (job, key, text) in saves {
        let res = job.save_cache(key, &[("a", text)]);
        assert_eq!(res.status, 201, "{key}: {}", res.body);
    }
    let taken = main.save_cache("deps-1", &[("a", "main's deps-1 again")]);
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(
        taken.json()["error"],
        "refs/heads/main has a cache entry under \"deps-1\"; entries are immutable, use another key"
    );

    // A pull request from `feature` into `release`.
    let body = json!({
        "action": "opened", "number": 7,
        "pull_request": {"number": 7, "title": "Faster", "head": {"ref": "feature", "sha": repo.head()}, "base": {"ref": "release"}},
        "repository": {"full_name": "octo/web"}, "sender": {"login": "alice"},
    });
    let res = crate::hooks::github(&server, "web", "pull_request", body.to_string().as_bytes(), crate::hooks::SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let pull = claim_as(&server, "on-pull", res.json()["runs"][0]["run"].as_i64().expect("a run"));

    let texts =
        ["main's deps-1", "feature's deps-2", "feature's deps-1", "main's deps-3", "release's rel-1", "the PR's rel-1"];
    let restores = |job: &Claimed<'_>, key: &str, restore_keys: &[&str]| match job.lookup_entry(key, restore_keys) {
        None => "none".to_owned(),
        Some((key, digest)) => {
            let text = texts.iter().find(|text| sha256(text.as_bytes()) == digest).expect("a known entry");
            format!("{key}: {text}")
        }
    };
    let found = [
        // A branch's own entry comes first, even before a newer one of the default branch.
        restores(&feature, "deps-1", &[]),
        restores(&feature, "deps-9", &["deps-"]),
        restores(&feature, "deps-3", &[]),
        // The default branch sees none of its branches' entries; a sibling branch neither.
        restores(&main, "deps-2", &[]),
        restores(&other, "deps-2", &[]),
        restores(&other, "deps-9", &["deps-"]),
        // A pull request sees its base branch's and the default branch's, not its head's.
        restores(&pull, "rel-1", &[]),
        restores(&pull, "deps-1", &[]),
        restores(&pull, "deps-2", &[]),
        restores(&release, "deps-2", &[]),
    ];
    assert_eq!(
        found,
        [
            "deps-1: feature's deps-1",
            "deps-1: feature's deps-1",
            "deps-3: main's deps-3",
            "none",
            "none",
            "deps-3: main's deps-3",
            "rel-1: release's rel-1",
            "deps-1: main's deps-1",
            "none",
            "none",
        ]
    );

    // A pull request saves under its own ref, never into its base branch's entries.
    assert_eq!(pull.save_cache("rel-1", &[("a", "the PR's rel-1")]).status, 201);
    assert_eq!(restores(&pull, "rel-1", &[]), "rel-1: the PR's rel-1");
    assert_eq!(restores(&release, "rel-1", &[]), "rel-1: release's rel-1");
    let rows = server.with_store(async |store| store.cache().all().await.expect("entries"));
    let scopes: Vec<String> = rows.iter().map(|entry| format!("{} {}", entry.scope, entry.key)).collect();
    assert_eq!(
        scopes,
        [
            "refs/heads/main deps-1",
            "refs/heads/feature deps-2",
            "refs/heads/feature deps-1",
            "refs/heads/main deps-3",
            "refs/heads/release rel-1",
            "refs/pull/7/merge rel-1",
        ]
    );
}

#[test]
fn the_sweep_removes_expired_cache_entries_and_keeps_the_blobs_of_live_ones() {
    let (server, _repo) = start(|config| config.artifact_sweep_interval = Duration::ZERO);
    let job = claimed(&server);
    assert_eq!(job.save_cache("old", &[("a", "only old\n")]).status, 201);
    assert_eq!(job.save_cache("live", &[("a", "live\n")]).status, 201);
    server.with_store(async |store| {
        let run = store.runs().get(job.run_id).await.expect("the run");
        let entry =
            store.cache().get(run.project_id, "refs/heads/main", "old", "", 0).await.expect("entries").expect("old");
        store.cache().set_expiry(entry.id, Some(1)).await.expect("expired");
    });
    assert_eq!(job.lookup_cache("old", &[]), "204");
    let root = server.dir.path().join("data/blobs/sha256");
    backdate_blobs_and_wait_for_the_sweep(&root, &[job.blob_file(&sha256(b"only old\n"))]);
    assert!(job.blob_file(&sha256(b"live\n")).exists(), "a live entry's blob stays");
    let rows = server.with_store(async |store| store.cache().all().await.expect("entries"));
    let keys: Vec<&str> = rows.iter().map(|entry| entry.key.as_str()).collect();
    assert_eq!(keys, ["live"]);
    assert!(job.blob_file(&rows[0].digest).exists(), "the live manifest stays");
}

#[test]
fn an_artifact_with_overwrite_replaces_the_one_of_its_name_whose_blobs_the_sweep_removes() {
    let (server, _repo) = start(|config| config.artifact_sweep_interval = Duration::ZERO);
    let job = claimed(&server);
    assert_eq!(job.artifact("out", &[("old.txt", "only old\n"), ("shared.txt", "shared\n")]).status, 201);
    let old_row = server.with_store(async |store| store.artifacts().all().await.expect("artifacts")).remove(0);
    let taken = job.artifact_with("out", &[("new.txt", "new\n")], &json!({"overwrite": false}));
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(
        taken.json()["error"],
        format!("run {} already has an artifact named \"out\"; use another name or `overwrite: true`", job.run_id)
    );
    assert_eq!(job.listed(), [r#"out 16 "build" ["old.txt", "shared.txt"]"#]);

    let res =
        job.artifact_with("out", &[("new.txt", "new\n"), ("shared.txt", "shared\n")], &json!({"overwrite": true}));
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(job.listed(), [r#"out 11 "build" ["new.txt", "shared.txt"]"#]);
    let rows = server.with_store(async |store| store.artifacts().all().await.expect("artifacts"));
    let names: Vec<&str> = rows.iter().map(|artifact| artifact.name.as_str()).collect();
    assert_eq!(names, ["out"], "the old row is gone");
    // The old artifact's blobs stay for the sweep, which removes those no artifact references.
    assert!(job.blob_file(&old_row.digest).exists(), "the old manifest waits for the sweep");
    let root = server.dir.path().join("data/blobs/sha256");
    backdate_blobs_and_wait_for_the_sweep(
        &root,
        &[job.blob_file(&sha256(b"only old\n")), job.blob_file(&old_row.digest)],
    );
    assert!(job.blob_file(&sha256(b"shared\n")).exists(), "a blob the new artifact references stays");
    assert!(job.blob_file(&rows[0].digest).exists(), "the new manifest stays");
    let viewer = server.token("viewer");
    let download = server.call("GET", &format!("/api/v1/runs/{}/artifacts/out", job.run_id), Some(&viewer), None);
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(download.body.contains("new.txt") && !download.body.contains("old.txt"), "{}", download.body);
}

#[test]
fn expired_artifacts_disappear_and_the_sweep_removes_the_blobs_only_they_referenced() {
    let (server, _repo) = start(|config| config.artifact_sweep_interval = Duration::ZERO);
    let job = claimed(&server);
    assert_eq!(job.artifact("old", &[("shared.txt", "shared\n"), ("only-old.txt", "only old\n")]).status, 201);
    assert_eq!(job.artifact("new", &[("shared.txt", "shared\n")]).status, 201);
    let old_manifest = server.with_store(async |store| {
        let artifacts = store.artifacts().list_for_run(job.run_id).await.expect("artifacts");
        let old = artifacts.iter().find(|artifact| artifact.name == "old").expect("old");
        store.artifacts().set_expiry(old.id, Some(1)).await.expect("expired");
        old.digest.clone()
    });
    assert_eq!(job.listed(), [r#"new 7 "build" ["shared.txt"]"#]);

    // Past the grace that protects blobs uploaded for a manifest still to come.
    let root = server.dir.path().join("data/blobs/sha256");
    backdate_blobs_and_wait_for_the_sweep(
        &root,
        &[job.blob_file(&sha256(b"only old\n")), job.blob_file(&old_manifest)],
    );
    assert!(job.blob_file(&sha256(b"shared\n")).exists(), "a blob another artifact references stays");
    let rows = server.with_store(async |store| store.artifacts().all().await.expect("artifacts"));
    let names: Vec<&str> = rows.iter().map(|artifact| artifact.name.as_str()).collect();
    assert_eq!(names, ["new"]);
    assert!(job.blob_file(&rows[0].digest).exists(), "the live manifest stays");
    let n_blobs: usize = std::fs::read_dir(&root)
        .expect("blob folders")
        .flatten()
        .map(|dir| std::fs::read_dir(dir.path()).expect("blobs").count())
        .sum();
    assert_eq!(n_blobs, 2, "the shared blob and the live manifest");
}

#[test]
fn the_run_page_lists_the_artifacts_with_links_the_session_cookie_downloads() {
    let (server, _repo) = start(|_| {});
    let job = claimed(&server);
    assert_eq!(job.artifact("build output", &[("a.txt", "hello\n")]).status, 201);
    let session = server.login(&server.admin);
    let page = server.request("GET", &format!("/ui/runs/{}", job.run_id), &[("Cookie", &session)], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    let href = format!("/api/v1/runs/{}/artifacts/build%20output", job.run_id);
    assert!(
        page.body.contains("<h2>Artifacts</h2>") && page.body.contains(&format!("href=\"{href}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("6 B") && page.body.contains("from build"), "{}", page.body);
    let tar = server.request("GET", &href, &[("Cookie", &session)], b"");
    assert_eq!(
        (tar.status, tar.header("content-disposition")),
        (200, Some(r#"attachment; filename="build output.tar""#))
    );
    assert!(tar.body.starts_with("a.txt\0"), "{:?}", &tar.body[..16]);
}

/// Makes every blob under `root` two hours old (past the grace that protects blobs uploaded
/// for a manifest still to come), then waits (bounded) until the sweep removed `gone`.
fn backdate_blobs_and_wait_for_the_sweep(root: &std::path::Path, gone: &[std::path::PathBuf]) {
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    for dir in std::fs::read_dir(root).expect("blob folders").flatten() {
        for blob in std::fs::read_dir(dir.path()).expect("blobs").flatten() {
            std::fs::File::options()
                .write(true)
                .open(blob.path())
                .expect("a blob")
                .set_modified(long_ago)
                .expect("backdated");
        }
    }
    let start = Instant::now();
    // Every one of them: a sweep removes blobs one by one, so one gone says little of the rest.
    while let Some(left) = gone.iter().find(|blob| blob.exists()) {
        assert!(start.elapsed() < Duration::from_secs(30), "the sweep did not remove {}", left.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}
