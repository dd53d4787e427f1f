//! The cache service jobs reach with `ACTIONS_RUNTIME_TOKEN`, spoken to exactly as
//! `@actions/cache` speaks (headers, JSON casing, `Content-Range` chunks, twirp paths, the
//! Azure Blob SDK's uploads): save and restore in both protocols, restore keys, versions,
//! scopes by ref and for forks, tokens that die with their job, and `GITHUB_TOKEN`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::{Value, json};

use crate::hooks::{SECRET, github};
use crate::{ProtocolRunner, Response, TestRepo, TestServer};

const WORKFLOW: &str =
    "on: [push, pull_request, workflow_dispatch]\njobs:\n  build: { runs-on: linux, steps: [{ run: make }] }\n";

/// The version `@actions/cache` sends for `path: target` with zstd (any hex does).
const VERSION: &str = "5d9c5b4e43c0de4a0d1f0c4a8f3e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4";
const TWIRP: &str = "/twirp/github.actions.results.api.v1.CacheService";

/// Where requests go: the test server, or a `ferry run` service on its own address.
#[derive(Clone, Copy)]
enum Http<'a> {
    Server(&'a TestServer),
    Local(SocketAddr),
}

impl Http<'_> {
    fn addr(self) -> SocketAddr {
        match self {
            Http::Server(server) => server.addr,
            Http::Local(addr) => addr,
        }
    }

    /// A request with these headers and body (`Content-Length` is added).
    fn request(self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body);
        let mut stream = TcpStream::connect(self.addr()).expect("connecting");
        stream.write_all(&raw).expect("sending");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("reading the answer");
        Response::parse(&answer)
    }
}

/// A job in progress (on the server: with its runner) and what it was given to reach the
/// runtime services.
struct Job<'a> {
    http: Http<'a>,
    runner: Option<ProtocolRunner<'a>>,
    assignment: Value,
    token: String,
}

fn server_and_repo() -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    for branch in ["feature", "other"] {
        repo.branch(branch);
    }
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    (server, repo)
}

/// Dispatches the workflow on `git_ref` and claims its job as a new runner `name`.
fn dispatched<'a>(server: &'a TestServer, name: &str, git_ref: Option<&str>) -> Job<'a> {
    let body = json!({"workflow": "ci.yml", "git_ref": git_ref});
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    claimed(server, name)
}

fn claimed<'a>(server: &'a TestServer, name: &str) -> Job<'a> {
    let runner = ProtocolRunner::register(server, name, &["linux"]);
    let assignment = runner.claim(5_000).expect("the build job");
    let runtime = &assignment["runtime"];
    assert_eq!(runtime["url"].as_str(), Some(format!("http://{}", server.addr).as_str()), "{assignment}");
    let token = runtime["token"].as_str().expect("a runtime token").to_owned();
    assert!(token.starts_with("ferryj_"), "{token}");
    Job { http: Http::Server(server), runner: Some(runner), assignment, token }
}

/// The path and query of a URL the service answered on its own address.
fn local(addr: SocketAddr, url: &str) -> String {
    url.strip_prefix(&format!("http://{addr}")).unwrap_or_else(|| panic!("{url} is not the service's")).to_owned()
}

impl Job<'_> {
    fn runner(&self) -> &ProtocolRunner<'_> {
        self.runner.as_ref().expect("a job on the server has a runner")
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// A legacy request as `@actions/http-client` sends it for the cache client.
    fn legacy(&self, method: &str, resource: &str, body: Option<&Value>) -> Response {
        let auth = self.auth();
        let mut headers = vec![
            ("Accept", "application/json;api-version=6.0-preview.1"),
            ("Authorization", auth.as_str()),
            ("User-Agent", "actions/cache-4.0.3"),
        ];
        let body = body.map(Value::to_string).unwrap_or_default();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json; charset=utf-8"));
        }
        self.http.request(method, &format!("/_apis/artifactcache/{resource}"), &headers, body.as_bytes())
    }

    /// `getCacheEntry`: the key found, or `None` for a 204.
    fn legacy_lookup(&self, keys: &[&str], version: &str) -> Option<(String, String)> {
        let keys = percent(&keys.join(","));
        let res = self.legacy("GET", &format!("cache?keys={keys}&version={version}"), None);
        match res.status {
            204 => None,
            200 => {
                let entry = res.json();
                let location = entry["archiveLocation"].as_str().expect("an archive location");
                let archive = self.http.request(
                    "GET",
                    &local(self.http.addr(), location),
                    &[("User-Agent", "actions/cache")],
                    b"",
                );
                assert_eq!(archive.status, 200, "{archive:?}");
                assert_eq!(archive.header("content-length"), Some(archive.body.len().to_string().as_str()));
                Some((entry["cacheKey"].as_str().expect("a key").to_owned(), archive.body))
            }
            _ => panic!("getCacheEntry: {res:?}"),
        }
    }

    /// `reserveCache`, the chunks (`Content-Range`, in the order given) and `commitCache`:
    /// the status of the commit.
    fn legacy_save(&self, key: &str, version: &str, archive: &str, chunks: &[(usize, usize)]) -> u16 {
        let reserve = json!({"key": key, "version": version, "cacheSize": archive.len()});
        let res = self.legacy("POST", "caches", Some(&reserve));
        if res.status != 201 {
            return res.status;
        }
        let id = res.json()["cacheId"].as_i64().expect("a cache id");
        let auth = self.auth();
        for &(start, end) in chunks {
            let range = format!("bytes {start}-{end}/*");
            let headers = [
                ("Accept", "application/json;api-version=6.0-preview.1"),
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", range.as_str()),
            ];
            let path = format!("/_apis/artifactcache/caches/{id}");
            let res = self.http.request("PATCH", &path, &headers, &archive.as_bytes()[start..=end]);
            assert_eq!(res.status, 204, "chunk {range}: {res:?}");
        }
        self.legacy("POST", &format!("caches/{id}"), Some(&json!({"size": archive.len()}))).status
    }

    /// A twirp call as `CacheServiceClientJSON` makes it.
    fn twirp(&self, method: &str, body: &Value) -> Response {
        let auth = self.auth();
        let headers = [
            ("Content-Type", "application/json"),
            ("Authorization", auth.as_str()),
            ("User-Agent", "actions/cache-4.0.3"),
        ];
        self.http.request("POST", &format!("{TWIRP}/{method}"), &headers, body.to_string().as_bytes())
    }

    /// `CreateCacheEntry`, the Azure SDK's upload (one `PUT` or `blocks`), then
    /// `FinalizeCacheEntryUpload`: the finalize answer.
    fn v2_save(&self, key: &str, archive: &str, blocks: Option<&[(&str, usize, usize)]>) -> Response {
        let res = self.twirp("CreateCacheEntry", &json!({"key": key, "version": VERSION}));
        if res.status != 200 {
            return res;
        }
        let created = res.json();
        assert_eq!(created["ok"], true, "{created}");
        let url = local(self.http.addr(), created["signed_upload_url"].as_str().expect("a signed URL"));
        // What @azure/storage-blob sends besides the body.
        let azure = [
            ("x-ms-version", "2024-11-04"),
            ("x-ms-date", "Mon, 07 Dec 2026 10:00:00 GMT"),
            ("x-ms-client-request-id", "5a3f1a4e-0000-4000-8000-000000000000"),
            ("User-Agent", "azsdk-js-storageblob/12.26.0 core-rest-pipeline/1.18.0 Node/20.20.2 OS/(x64-Linux)"),
        ];
        match blocks {
            None => {
                let mut headers = azure.to_vec();
                headers.extend([("x-ms-blob-type", "BlockBlob"), ("Content-Type", "application/octet-stream")]);
                let res = self.http.request("PUT", &url, &headers, archive.as_bytes());
                assert_eq!(res.status, 201, "the single-shot upload: {res:?}");
            }
            Some(blocks) => {
                for &(id, start, end) in blocks {
                    let res = self.http.request(
                        "PUT",
                        &format!("{url}&comp=block&blockid={}", percent(id)),
                        &azure,
                        &archive.as_bytes()[start..end],
                    );
                    assert_eq!(res.status, 201, "block {id}: {res:?}");
                }
                let mut ids: Vec<&str> = blocks.iter().map(|(id, _, _)| *id).collect();
                ids.sort_by_key(|id| blocks.iter().find(|(block, _, _)| block == id).map(|(_, start, _)| *start));
                let list: String = ids.iter().map(|id| format!("<Latest>{id}</Latest>")).collect();
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><BlockList>{list}</BlockList>"
                );
                let mut headers = azure.to_vec();
                headers.push(("Content-Type", "application/xml"));
                let res = self.http.request("PUT", &format!("{url}&comp=blocklist"), &headers, xml.as_bytes());
                assert_eq!(res.status, 201, "the block list: {res:?}");
            }
        }
        self.twirp(
            "FinalizeCacheEntryUpload",
            &json!({"key": key, "version": VERSION, "size_bytes": archive.len().to_string()}),
        )
    }

    /// `GetCacheEntryDownloadURL` and the download: the matched key and the archive.
    fn v2_restore(&self, key: &str, restore_keys: &[&str], version: &str) -> Option<(String, String)> {
        let mut request = json!({"key": key, "version": version});
        if !restore_keys.is_empty() {
            request["restore_keys"] = json!(restore_keys);
        }
        let res = self.twirp("GetCacheEntryDownloadURL", &request);
        assert_eq!(res.status, 200, "{res:?}");
        let answer = res.json();
        if answer["ok"] != true {
            return None;
        }
        let url = local(self.http.addr(), answer["signed_download_url"].as_str().expect("a signed URL"));
        let archive = self.http.request("GET", &url, &[], b"");
        assert_eq!(archive.status, 200, "{archive:?}");
        Some((answer["matched_key"].as_str().expect("a key").to_owned(), archive.body))
    }
}

/// `encodeURIComponent`, enough for keys and block ids.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn the_legacy_protocol_saves_in_chunks_and_restores_by_key_prefix_and_version() {
    let (server, _repo) = server_and_repo();
    let job = dispatched(&server, "r1", None);
    assert_eq!(job.legacy_lookup(&["cargo-Linux-abc", "cargo-Linux-"], VERSION), None, "nothing saved yet");

    let archive = "0123456789abcdefghij";
    // Chunks come in parallel, so in any order.
    assert_eq!(job.legacy_save("cargo-Linux-abc", VERSION, archive, &[(10, 19), (0, 9)]), 204);
    assert_eq!(
        job.legacy_lookup(&["cargo-Linux-abc"], VERSION),
        Some(("cargo-Linux-abc".to_owned(), archive.to_owned()))
    );
    assert_eq!(
        job.legacy_lookup(&["cargo-Linux-def", "cargo-Linux-"], VERSION),
        Some(("cargo-Linux-abc".to_owned(), archive.to_owned())),
        "a restore key is a prefix"
    );
    assert_eq!(job.legacy_lookup(&["cargo-Linux-abc"], &"0".repeat(64)), None, "another version misses");
    assert_eq!(job.legacy_lookup(&["cargo-"], VERSION).map(|(key, _)| key), Some("cargo-Linux-abc".to_owned()));

    // Entries are immutable: a second reservation of the key and version is refused.
    let again =
        job.legacy("POST", "caches", Some(&json!({"key": "cargo-Linux-abc", "version": VERSION, "cacheSize": 3})));
    assert_eq!(again.status, 409, "{again:?}");
    assert!(again.json()["message"].as_str().is_some_and(|message| message.contains("immutable")), "{again:?}");
    // The same key with another version is another entry.
    assert_eq!(job.legacy_save("cargo-Linux-abc", &"1".repeat(64), "other", &[(0, 4)]), 204);

    // A half-finished upload is not restorable, and a commit without all its bytes fails.
    let reserve = json!({"key": "half", "version": VERSION, "cacheSize": 10});
    let res = job.legacy("POST", "caches", Some(&reserve));
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(job.legacy_save("half", VERSION, "x", &[]), 409, "being saved by another upload");
    let id = res.json()["cacheId"].as_i64().expect("an id");
    let auth = job.auth();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/octet-stream"),
        ("Content-Range", "bytes 5-9/*"),
    ];
    assert_eq!(server.request("PATCH", &format!("/_apis/artifactcache/caches/{id}"), &headers, b"56789").status, 204);
    assert_eq!(job.legacy_lookup(&["half"], VERSION), None, "not committed");
    let res = job.legacy("POST", &format!("caches/{id}"), Some(&json!({"size": 10})));
    assert_eq!(res.status, 400, "bytes 0-4 never came: {res:?}");
    assert_eq!(job.legacy_lookup(&["half"], VERSION), None);

    // Bounds: a chunk past its declared size, a body that is not its range.
    let res = job.legacy("POST", "caches", Some(&json!({"key": "small", "version": VERSION, "cacheSize": 4})));
    let id = res.json()["cacheId"].as_i64().expect("an id");
    let past = [("Authorization", auth.as_str()), ("Content-Range", "bytes 0-9/*")];
    assert_eq!(server.request("PATCH", &format!("/_apis/artifactcache/caches/{id}"), &past, b"0123456789").status, 413);
    let short = [("Authorization", auth.as_str()), ("Content-Range", "bytes 0-3/*")];
    assert_eq!(server.request("PATCH", &format!("/_apis/artifactcache/caches/{id}"), &short, b"01").status, 400);
    let huge = json!({"key": "huge", "version": VERSION, "cacheSize": 11_u64 * 1024 * 1024 * 1024});
    assert_eq!(job.legacy("POST", "caches", Some(&huge)).status, 413);
}

#[test]
fn the_results_service_saves_through_the_azure_blob_protocol_and_restores() {
    let (server, _repo) = server_and_repo();
    let job = dispatched(&server, "r1", None);
    let miss = job.v2_restore("node-cache-Linux-x64-npm-1", &["node-cache-Linux-x64-npm-"], VERSION);
    assert_eq!(miss, None, "a miss is ok: false");

    let res = job.v2_save("node-cache-Linux-x64-npm-1", "one shot archive", None);
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["ok"], true);
    assert!(res.json()["entry_id"].as_str().is_some_and(|id| id.parse::<i64>().is_ok()), "int64 as a string: {res:?}");
    assert_eq!(
        job.v2_restore("node-cache-Linux-x64-npm-2", &["node-cache-Linux-x64-npm-"], VERSION),
        Some(("node-cache-Linux-x64-npm-1".to_owned(), "one shot archive".to_owned()))
    );
    assert_eq!(job.v2_restore("node-cache-Linux-x64-npm-1", &[], &"2".repeat(64)), None, "another version misses");

    // Larger archives come in blocks, staged in parallel and put together by the block list.
    let archive = "AAAAABBBBBCCC";
    let blocks = [("QkJC", 5, 10), ("QUFB", 0, 5), ("Q0ND", 10, 13)];
    let res = job.v2_save("rust-big", archive, Some(&blocks));
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(job.v2_restore("rust-big", &[], VERSION), Some(("rust-big".to_owned(), archive.to_owned())));

    // Entries are immutable: the twirp error GitHub answers.
    let res = job.twirp("CreateCacheEntry", &json!({"key": "rust-big", "version": VERSION}));
    assert_eq!(res.status, 409, "{res:?}");
    assert_eq!(res.json()["code"], "already_exists");
    // Finalizing with a size the upload does not have fails, and nothing is restorable.
    let res = job.twirp("CreateCacheEntry", &json!({"key": "short", "version": VERSION}));
    let url = local(server.addr, res.json()["signed_upload_url"].as_str().expect("a URL"));
    let headers = [("x-ms-blob-type", "BlockBlob")];
    assert_eq!(server.request("PUT", &url, &headers, b"abc").status, 201);
    let res = job.twirp("FinalizeCacheEntryUpload", &json!({"key": "short", "version": VERSION, "size_bytes": "4"}));
    assert_eq!(res.status, 400, "{res:?}");
    assert_eq!(job.v2_restore("short", &[], VERSION), None);
    // A signed URL with another ticket opens nothing.
    let forged = format!("{}{}", url.split("sig=").next().expect("a query"), "sig=00");
    let res = server.request("PUT", &forged, &headers, b"abc");
    assert_eq!((res.status, res.header("x-ms-error-code")), (404, Some("BlobNotFound")), "{res:?}");
    let res = job.twirp("CreateCacheEntry", &json!({"key": "bad,key", "version": VERSION}));
    assert_eq!((res.status, res.json()["code"].clone()), (400, json!("invalid_argument")), "{res:?}");
}

#[test]
fn both_protocols_share_the_entries_of_a_scope() {
    let (server, _repo) = server_and_repo();
    let job = dispatched(&server, "r1", None);
    assert_eq!(job.legacy_save("shared", VERSION, "legacy bytes", &[(0, 11)]), 204);
    assert_eq!(job.v2_restore("shared", &[], VERSION), Some(("shared".to_owned(), "legacy bytes".to_owned())));
    assert_eq!(job.v2_save("shared-2", "v2 bytes", None).status, 200);
    assert_eq!(job.legacy_lookup(&["shared-2"], VERSION), Some(("shared-2".to_owned(), "v2 bytes".to_owned())));
    let res = job.twirp("CreateCacheEntry", &json!({"key": "shared", "version": VERSION}));
    assert_eq!(res.status, 409, "saved through the other protocol: {res:?}");
    // The built-in actions/cache keeps its entries apart (version ''): the key is free there.
    let rows = server.with_store(async |store| store.cache().all().await.expect("entries"));
    let saved: Vec<(String, String)> = rows.iter().map(|entry| (entry.key.clone(), entry.version.clone())).collect();
    assert_eq!(saved, [("shared".to_owned(), VERSION.to_owned()), ("shared-2".to_owned(), VERSION.to_owned())]);
}

#[test]
fn a_branch_restores_its_own_and_the_default_branch_s_entries_never_a_sibling_s() {
    let (server, repo) = server_and_repo();
    let main = dispatched(&server, "on-main", None);
    assert_eq!(main.legacy_save("deps-main", VERSION, "main's", &[(0, 5)]), 204);
    let feature = dispatched(&server, "on-feature", Some("feature"));
    assert_eq!(feature.v2_save("deps-feature", "feature's", None).status, 200);
    let other = dispatched(&server, "on-other", Some("other"));
    assert_eq!(other.v2_restore("deps-", &[], VERSION).map(|(key, _)| key), Some("deps-main".to_owned()));
    assert_eq!(other.legacy_lookup(&["deps-feature"], VERSION), None, "a sibling's entry");
    assert_eq!(main.v2_restore("deps-feature", &[], VERSION), None, "the default branch sees no branch's");
    assert_eq!(feature.legacy_lookup(&["deps-feature"], VERSION).map(|(key, _)| key), Some("deps-feature".to_owned()));

    // A pull request from a fork saves under its own ref only.
    let body = crate::forks::pull_request(&repo.head(), 2, "eve");
    let res = github(&server, "web", "pull_request", &body, SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let fork = claimed(&server, "on-fork");
    assert_eq!(fork.assignment["secrets"], json!({}), "{}", fork.assignment);
    assert_eq!(fork.legacy_lookup(&["deps-"], VERSION).map(|(_, text)| text), Some("main's".to_owned()), "its base's");
    // It may save the base's key, into its own scope, where only it restores it.
    assert_eq!(fork.v2_save("deps-main", "eve's", None).status, 200);
    assert_eq!(fork.legacy_save("deps-fork", VERSION, "eve's", &[(0, 4)]), 204);
    assert_eq!(fork.v2_restore("deps-main", &[], VERSION).map(|(_, text)| text), Some("eve's".to_owned()));
    let main_again = dispatched(&server, "on-main-2", None);
    assert_eq!(main_again.v2_restore("deps-main", &[], VERSION).map(|(_, text)| text), Some("main's".to_owned()));
    assert_eq!(main_again.legacy_lookup(&["deps-fork"], VERSION), None, "the fork wrote nothing the base reads");
    let rows = server.with_store(async |store| store.cache().all().await.expect("entries"));
    let scopes: Vec<String> = rows.iter().map(|entry| format!("{} {}", entry.scope, entry.key)).collect();
    assert_eq!(
        scopes,
        [
            "refs/heads/main deps-main",
            "refs/heads/feature deps-feature",
            "refs/pull/7/merge deps-main",
            "refs/pull/7/merge deps-fork",
        ]
    );
}

#[test]
fn a_runtime_token_opens_only_its_job_s_service_while_the_job_runs() {
    let (server, _repo) = server_and_repo();
    let job = dispatched(&server, "r1", None);
    let lookup = format!("/_apis/artifactcache/cache?keys=k&version={VERSION}");
    let refused = |token: Option<&str>| {
        let legacy = server.call("GET", &lookup, token, None);
        let twirp = server.call(
            "POST",
            &format!("{TWIRP}/GetCacheEntryDownloadURL"),
            token,
            Some(&json!({"key": "k", "version": VERSION})),
        );
        (legacy.status, twirp.status, twirp.json()["code"].as_str().unwrap_or_default().to_owned())
    };
    let unauthenticated = (401, 401, "unauthenticated".to_owned());
    assert_eq!(refused(None), unauthenticated, "no token");
    assert_eq!(refused(Some(&server.admin)), unauthenticated, "an admin's API token");
    assert_eq!(refused(Some(job.runner().token())), unauthenticated, "the job's runner's token");
    let forged = format!("{}0", &job.token[..job.token.len() - 1]);
    assert_eq!(refused(Some(&forged)), unauthenticated, "a forged signature");
    assert_eq!(server.call("GET", &lookup, Some(&job.token), None).status, 204, "the job's own token");

    job.runner().complete(&job.assignment, "success", json!({}));
    assert_eq!(refused(Some(&job.token)), unauthenticated, "a job's token dies with the job");
}

#[test]
fn github_token_is_the_project_s_forge_token_but_never_a_fork_s() {
    let (server, repo) = server_and_repo();
    let res = server.call(
        "PUT",
        "/api/v1/projects/web/secrets/FERRY_REPO_TOKEN",
        Some(&server.admin),
        Some(&json!({"value": "x-access-token:ghp_forge"})),
    );
    assert!(matches!(res.status, 200 | 201 | 204), "{}", res.body);
    let job = dispatched(&server, "r1", None);
    assert_eq!(job.assignment["secrets"]["GITHUB_TOKEN"], "ghp_forge", "{}", job.assignment);
    assert_eq!(job.assignment["contexts"]["github"]["token"], "ghp_forge");
    job.runner().complete(&job.assignment, "success", json!({}));

    let body = crate::forks::pull_request(&repo.head(), 2, "eve");
    assert_eq!(github(&server, "web", "pull_request", &body, SECRET).status, 202);
    let fork = claimed(&server, "r2");
    assert_eq!(fork.assignment["secrets"], json!({}), "{}", fork.assignment);
    assert_eq!(fork.assignment["contexts"]["github"]["token"], "", "{}", fork.assignment);
}

#[test]
fn archives_larger_than_a_json_body_go_through_both_protocols_whole() {
    let (server, _repo) = server_and_repo();
    let job = dispatched(&server, "r1", None);
    // Over axum's 2 MiB default body limit, which the uploads must not be held to.
    let archive = "0123456789abcdef".repeat(3 * 1024 * 1024 / 16 + 5);
    let half = archive.len() / 2;
    assert_eq!(job.legacy_save("big-legacy", VERSION, &archive, &[(half, archive.len() - 1), (0, half - 1)]), 204);
    assert_eq!(job.v2_restore("big-legacy", &[], VERSION).map(|(_, text)| text.len()), Some(archive.len()));
    assert_eq!(job.v2_save("big-v2", &archive, None).status, 200);
    let restored = job.legacy_lookup(&["big-v2"], VERSION).map(|(_, text)| text);
    assert!(restored.as_deref() == Some(archive.as_str()), "the archive comes back whole");
}

#[test]
fn ferry_run_s_service_keeps_archives_in_the_cache_folder_for_its_own_token_only() {
    let cache = tempfile::tempdir().expect("a cache folder");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let start = |runtime: &tokio::runtime::Runtime| {
        let service = runtime.block_on(ferry_server::LocalService::start(cache.path())).expect("the service starts");
        let addr: SocketAddr = service.url().strip_prefix("http://").expect("http").parse().expect("an address");
        let job =
            Job { http: Http::Local(addr), runner: None, assignment: Value::Null, token: service.token().to_owned() };
        (service, job)
    };
    let (first_service, first) = start(&runtime);
    assert!(first.token.len() > 40, "a random token: {}", first.token);
    assert_eq!(first.v2_save("npm-Linux-1", "node_modules v1", None).status, 200);
    assert_eq!(first.legacy_save("cargo-Linux-1", VERSION, "target v1", &[(4, 8), (0, 3)]), 204);
    let res = first.twirp("CreateCacheEntry", &json!({"key": "npm-Linux-1", "version": VERSION}));
    assert_eq!(res.json()["code"], "already_exists", "{res:?}");
    drop(first_service);

    // The next run: another service, another token, the same folder.
    let (_service, second) = start(&runtime);
    assert_ne!(second.token, first.token);
    assert_eq!(
        second.v2_restore("npm-Linux-2", &["npm-Linux-"], VERSION),
        Some(("npm-Linux-1".to_owned(), "node_modules v1".to_owned())),
        "a restore key is a prefix"
    );
    assert_eq!(
        second.legacy_lookup(&["cargo-Linux-1"], VERSION),
        Some(("cargo-Linux-1".to_owned(), "target v1".to_owned()))
    );
    assert_eq!(second.legacy_lookup(&["cargo-Linux-1"], &"3".repeat(64)), None, "another version misses");
    let stale = Job { token: first.token.clone(), ..second };
    let res = stale.twirp("GetCacheEntryDownloadURL", &json!({"key": "npm-Linux-1", "version": VERSION}));
    assert_eq!((res.status, res.json()["code"].clone()), (401, json!("unauthenticated")), "the last run's token");
    let res = stale.legacy("GET", &format!("cache?keys=npm-Linux-1&version={VERSION}"), None);
    assert_eq!(res.status, 401, "{res:?}");
}
