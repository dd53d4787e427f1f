//! Issue 13, "Harden the server": credentials in repository URLs never show, `ferry.db` is
//! owner-only, a workflow that cannot be read as one still fails a run that says where, and a
//! repository that hangs does not stop "runner lost" of other projects.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hooks::{SECRET, github};
use crate::{ProtocolRunner, TestRepo, TestServer};

/// Everything the server logs, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures the logs of everything in this test process (one test per process).
    fn capture() -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test process");
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

/// A GitHub push of `sha` to `main`.
fn push_of(sha: &str) -> Vec<u8> {
    json!({
        "ref": "refs/heads/main", "before": "0000000000000000000000000000000000000000", "after": sha,
        "repository": {"full_name": "octo/web"}, "sender": {"login": "alice"},
        "commits": [{"id": sha, "message": "push", "added": [], "modified": [], "removed": []}],
    })
    .to_string()
    .into_bytes()
}

#[test]
fn issue_13_a_repo_url_with_a_credential_is_refused_and_an_old_one_never_shows() {
    let logs = Logs::capture();
    let server = TestServer::start();
    let url = "https://user:tok@127.0.0.1:1/x.git";
    let body = json!({"name": "private", "repo": url, "webhook_secret": SECRET});
    let res = server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body));
    assert_eq!(res.status, 400, "{}", res.body);
    let error = res.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("FERRY_REPO_TOKEN") && error.contains("https://***@127.0.0.1:1/x.git"), "{error}");
    assert!(!res.body.contains("tok@"), "{}", res.body);

    // A project stored before such URLs were refused.
    server.with_store(async |store| {
        let project = ferry_store::NewProject { name: "legacy", repo: url, branch: "main", webhook_secret: SECRET };
        store.projects().create(&project, 0).await.expect("a project");
    });
    let viewer = server.token("viewer");
    let developer = server.token("developer");
    for path in ["/api/v1/projects", "/api/v1/projects/legacy"] {
        let res = server.call("GET", path, Some(&viewer), None);
        assert_eq!(res.status, 200, "{}", res.body);
        assert!(res.body.contains("https://***@127.0.0.1:1/x.git") && !res.body.contains("tok"), "{}", res.body);
    }
    let session = server.login(&viewer);
    for path in ["/", "/ui/projects/legacy"] {
        let page = server.request("GET", path, &[("Cookie", &session)], b"");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("https://***@127.0.0.1:1/x.git") && !page.body.contains("tok@"), "{}", page.body);
    }
    // git fails to reach the remote: its error (which names the URL) is answered and stored.
    let res = server.call("POST", "/api/v1/projects/legacy/trigger", Some(&developer), Some(&json!({})));
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("127.0.0.1:1") && !res.body.contains("tok"), "{}", res.body);
    let sha = "2222222222222222222222222222222222222222";
    let res = github(&server, "legacy", "push", &push_of(sha), SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let run = &server.call("GET", "/api/v1/projects/legacy/runs", Some(&viewer), None).json()[0];
    let error = run["error"].as_str().unwrap_or_default();
    assert!(error.contains("127.0.0.1:1") && !error.contains("tok"), "{run:#}");
    let stored = server.with_store(async |store| store.runs().get(run["id"].as_i64().expect("an id")).await);
    let stored = stored.expect("the run").error.unwrap_or_default();
    assert!(stored.contains("git") && !stored.contains("tok"), "{stored}");
    let logs = logs.text();
    assert!(logs.contains("127.0.0.1:1") && !logs.contains("tok@"), "{logs}");
}

/// Dispatches `ci.yml` of `project` and claims its one job as `runner`, which completes it;
/// the job as the claim gave it.
fn dispatched_job(server: &TestServer, runner: &ProtocolRunner<'_>, project: &str) -> Value {
    let body = json!({"workflow": "ci.yml"});
    let res = server.call("POST", &format!("/api/v1/projects/{project}/trigger"), Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let job = runner.claim(5_000).expect("the build job");
    runner.complete(&job, "success", json!({}));
    job
}

#[test]
fn issue_13_a_runner_gets_the_repository_without_user_info_and_its_credential_beside_it() {
    let one_job = "on: workflow_dispatch\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", one_job)]);
    let server = TestServer::start();
    // A project stored with a credential in its URL, before such URLs were refused (git
    // reads a `file://` URL's user info and ignores it).
    let url = format!("file://user:tok@localhost{}", repo.path().display());
    server.with_store(async |store| {
        let project = ferry_store::NewProject { name: "legacy", repo: &url, branch: "main", webhook_secret: SECRET };
        store.projects().create(&project, 0).await.expect("a project");
    });
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let job = dispatched_job(&server, &runner, "legacy");
    assert_eq!(job["repo"], format!("file://localhost{}", repo.path().display()), "{job}");
    assert_eq!(job["repo_credential"], "user:tok", "{job}");

    // The project's secret wins; it is a credential for git, not in the URL.
    let secret = json!({"value": "s3cr3t\n"});
    let res =
        server.call("PUT", "/api/v1/projects/legacy/secrets/FERRY_REPO_TOKEN", Some(&server.admin), Some(&secret));
    assert_eq!(res.status, 204, "{}", res.body);
    let job = dispatched_job(&server, &runner, "legacy");
    assert_eq!(job["repo"], format!("file://localhost{}", repo.path().display()), "{job}");
    assert_eq!(job["repo_credential"], "s3cr3t", "{job}");
}

#[test]
fn issue_13_a_dispatched_run_of_a_gitea_project_gets_giteas_api_url() {
    let dispatch_only = "on: workflow_dispatch\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", dispatch_only)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let dispatched = || {
        let job = dispatched_job(&server, &runner, "web");
        let github = &job["contexts"]["github"];
        (github["api_url"].as_str().unwrap_or("?").to_owned(), github["graphql_url"].as_str().unwrap_or("?").to_owned())
    };
    // Nothing tells which forge a local repository is on: GitHub's.
    assert_eq!(dispatched(), ("https://api.github.com".to_owned(), "https://api.github.com/graphql".to_owned()));

    // A push from Gitea (it starts nothing here) tells the project's forge.
    let body = json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": repo.head(), "commits": [],
        "repository": {"id": 11, "full_name": "octo/web", "html_url": "https://gitea.example/octo/web"},
        "sender": {"id": 3, "login": "alice"},
    })
    .to_string();
    let signature = crate::hooks::signature(SECRET, body.as_bytes());
    let headers = [
        ("X-Gitea-Event", "push"),
        ("X-Gitea-Signature", signature.trim_start_matches("sha256=")),
        ("Content-Type", "application/json"),
    ];
    let res = server.request("POST", "/hooks/gitea/web", &headers, body.as_bytes());
    assert!(matches!(res.status, 200 | 202), "{res:?}");
    assert_eq!(dispatched(), ("https://gitea.example/api/v1".to_owned(), String::new()));
}

#[test]
fn issue_13_ferry_db_is_owner_only() {
    let server = TestServer::start();
    for file in ["ferry.db", "ferry.db-wal", "ferry.db-shm"] {
        let path = server.dir.path().join("data").join(file);
        let mode = std::fs::metadata(&path).map(|meta| meta.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "{file}");
    }
}

/// The failed runs a push of `repo`'s head made, as (workflow file, error).
fn failed_runs_of_a_push(repo: &TestRepo) -> Vec<(String, String)> {
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res = github(&server, "web", "push", &push_of(&repo.head()), SECRET);
    assert_eq!(res.status, 202, "a push with broken workflows still makes runs: {}", res.body);
    let runs = server.call("GET", "/api/v1/projects/web/runs", Some(&server.admin), None).json();
    let mut failed: Vec<(String, String)> = runs
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| {
            assert_eq!((run["status"].as_str(), run["conclusion"].as_str()), (Some("completed"), Some("failure")));
            let file = run["workflow_file"].as_str().unwrap_or_default().to_owned();
            (file, run["error"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    failed.sort();
    failed
}

#[test]
fn issue_13_a_push_of_workflows_that_are_not_yaml_utf8_or_small_fails_a_run_that_says_where() {
    let tab = "on: push\njobs:\n\tbuild:\n    runs-on: linux\n";
    let nested = format!("on: push\njobs: {}{}\n", "[".repeat(5000), "]".repeat(5000));
    let huge = format!("on: push\n{}", "# a comment line of a workflow that is far too large\n".repeat(25_000));
    let repo = TestRepo::new(&[
        (".github/workflows/tab.yml", tab),
        (".github/workflows/nested.yml", &nested),
        (".github/workflows/huge.yml", &huge),
    ]);
    let mut bytes = b"on: push\njobs:\n  build:\n    runs-on: linux\n    steps: [{ run: \"echo ".to_vec();
    bytes.extend_from_slice(b"caf\xe9\" }]\n");
    std::fs::File::create(repo.path().join(".github/workflows/latin1.yml"))
        .and_then(|mut file| file.write_all(&bytes))
        .expect("writing a Latin-1 workflow");
    repo.commit(&[], "broken workflows");

    let failed = failed_runs_of_a_push(&repo);
    let files: Vec<&str> = failed.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(
        files,
        [
            ".github/workflows/huge.yml",
            ".github/workflows/latin1.yml",
            ".github/workflows/nested.yml",
            ".github/workflows/tab.yml"
        ]
    );
    let error = |file: &str| failed.iter().find(|(path, _)| path.ends_with(file)).map(|(_, error)| error.as_str());
    let huge_error = error("huge.yml").unwrap_or_default();
    assert!(
        huge_error.contains(".github/workflows/huge.yml:1:1: the file is") && huge_error.contains("1 MiB"),
        "{huge_error}"
    );
    let latin1 = error("latin1.yml").unwrap_or_default();
    assert!(latin1.contains(".github/workflows/latin1.yml:5:29: the file is not valid UTF-8"), "{latin1}");
    assert!(error("tab.yml").unwrap_or_default().contains(".github/workflows/tab.yml:3:"), "{failed:?}");
    assert!(error("nested.yml").unwrap_or_default().contains(".github/workflows/nested.yml:2:"), "{failed:?}");
}

#[test]
fn issue_13_a_repository_that_never_answers_does_not_stop_runner_lost_of_another_project() {
    // A remote that accepts connections and never answers: git waits on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let (asked, asked_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let _ = asked.send(());
            held.push(stream);
        }
    });
    let one_job = "on: workflow_dispatch\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", one_job)]);
    let clock = ferry_testkit::FakeClock::at(1_796_032_830_000);
    let server = crate::hooks::with_repo_project(
        TestServer::start_with_clock(Arc::new(clock.clone()), |config| {
            config.poll_interval = Duration::from_millis(100);
        }),
        &repo.path(),
    );
    let body = json!({"name": "hung", "repo": format!("http://127.0.0.1:{port}/x.git")});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    asked_rx.recv_timeout(Duration::from_secs(30)).expect("a poll asks the hung remote");

    let res =
        server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    runner.claim(1000).expect("build");
    // The runner goes silent past its lease while the poll of `hung` still waits on its remote.
    clock.advance(Duration::from_millis(ferry_proto::runner::LEASE_MS.unsigned_abs() + 1_000));
    let start = Instant::now();
    let detail = loop {
        let detail: Value = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None).json();
        if detail["run"]["status"] == "completed" {
            break detail;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "runner lost was not detected: {detail:#}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let reason = detail["jobs"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("runner lost"), "{reason}");
}

#[test]
fn issue_13_run_lists_page_past_the_newest_and_filter_by_status_branch_workflow_and_event() {
    let server = crate::hooks::with_repo_project(TestServer::start(), std::path::Path::new("/srv/web.git"));
    server.with_store(async |store| {
        let project = store.projects().by_name("web").await.expect("read").expect("web");
        for number in 1..=7_usize {
            let run = ferry_store::NewRun {
                project_id: project.id,
                workflow_file: if number % 2 == 0 {
                    ".github/workflows/ci.yml"
                } else {
                    ".ferry/workflows/nightly.yml"
                },
                workflow_name: "CI",
                event: if number == 5 { "pull_request" } else { "push" },
                git_ref: if number <= 3 { "refs/heads/main" } else { "refs/heads/dev" },
                sha: "0123456789abcdef0123456789abcdef01234567",
                trigger_actor: "test",
                trigger_info: "{}",
                workflow_src: "",
                title: "",
                author: "",
                rerun_of: None,
            };
            let run = store.runs().create(&run, 1).await.expect("a run");
            if number == 6 {
                store.runs().complete(run.id, ferry_store::Conclusion::Cancelled, 2).await.expect("complete");
            }
        }
    });
    let viewer = server.token("viewer");
    let numbers = |path: &str| -> (Vec<i64>, Option<String>) {
        let res = server.call("GET", path, Some(&viewer), None);
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        let numbers = res.json().as_array().into_iter().flatten().filter_map(|run| run["number"].as_i64()).collect();
        (numbers, res.header("link").map(str::to_owned))
    };
    let (first, link) = numbers("/api/v1/projects/web/runs?limit=3");
    assert_eq!(first, [7, 6, 5]);
    let link = link.expect("a full page links to the next");
    assert_eq!(link, r#"</api/v1/projects/web/runs?before=5&limit=3>; rel="next""#);
    let next = link.trim_start_matches('<').split('>').next().expect("a URL");
    assert_eq!(
        numbers(next),
        (vec![4, 3, 2], Some(r#"</api/v1/projects/web/runs?before=2&limit=3>; rel="next""#.to_owned()))
    );
    assert_eq!(numbers("/api/v1/projects/web/runs?before=2&limit=3"), (vec![1], None));

    let filtered = |query: &str| numbers(&format!("/api/v1/projects/web/runs?{query}")).0;
    assert_eq!(filtered("branch=main"), [3, 2, 1]);
    assert_eq!(filtered("branch=refs/heads/dev&workflow=ci.yml"), [6, 4]);
    assert_eq!(filtered("workflow=.ferry/workflows/nightly.yml"), [7, 5, 3, 1]);
    assert_eq!(filtered("event=pull_request"), [5]);
    assert_eq!(filtered("status=cancelled"), [6]);
    assert_eq!(filtered("status=queued&limit=2"), [7, 5]);
    let (_, link) = numbers("/api/v1/projects/web/runs?status=queued&limit=2&workflow=nightly.yml");
    assert_eq!(
        link.as_deref(),
        Some(r#"</api/v1/projects/web/runs?before=5&limit=2&status=queued&workflow=nightly.yml>; rel="next""#)
    );
    let bad = server.call("GET", "/api/v1/projects/web/runs?status=done", Some(&viewer), None);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("in_progress") && bad.body.contains("cancelled"), "{}", bad.body);
    assert_eq!(server.call("GET", "/api/v1/projects/web/runs?limit=0", Some(&viewer), None).status, 400);

    // The UI pages the same way, 50 runs a page.
    let session = server.login(&viewer);
    let page = server.request("GET", "/ui/projects/web?before=3", &[("Cookie", &session)], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"data-before="3""#) && page.body.contains("Newest runs"), "{}", page.body);
    assert!(
        page.body.contains(">#2 ") && !page.body.contains(">#3 ") && !page.body.contains("Older runs"),
        "{}",
        page.body
    );
}

#[test]
fn issue_13_a_job_cancelled_before_it_started_shows_as_cancelled_in_the_job_graph() {
    let queued_forever = "on: workflow_dispatch\njobs:\n  build: { runs-on: nowhere, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", queued_forever)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({})));
    let id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    let res = server.call("POST", &format!("/api/v1/runs/{id}/cancel"), Some(&server.admin), None);
    assert!(res.status == 200 || res.status == 202, "{}", res.body);
    let detail: Value = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None).json();
    assert_eq!(
        (detail["jobs"][0]["status"].as_str(), detail["jobs"][0]["conclusion"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    let session = server.login(&server.admin);
    let page = server.request("GET", &format!("/ui/runs/{id}"), &[("Cookie", &session)], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    let graph = page.body.split(r#"id="graph""#).nth(1).expect("a job graph");
    let job = graph.split(r#"data-key="build""#).nth(1).expect("the build job's box");
    let job = &job[..job.find("</a>").expect("the end of the box")];
    assert!(job.contains(r#"data-state="cancelled""#), "{job}");
    assert!(job.contains(">cancelled</span>") && !job.contains("completed"), "{job}");
}
