//! The web UI in a real headless Chromium (ferry-testkit's `Browser`): logging in through the
//! form, starting a run with the "Run workflow" form, the job graph, a live log while the test
//! acts as the runner over the protocol, cancelling from the button; and, over plain HTTP, the
//! login answers, redirects, assets and the CSRF rule for cookie-authenticated writes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ferry_testkit::{Browser, Page};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = "\
name: CI
on: workflow_dispatch
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
  test:
    needs: build
    runs-on: linux
    steps:
      - run: make test
";

/// How long a page may take to show what a test waits for.
const WAIT: Duration = Duration::from_secs(20);

/// A server with project `web` on a repository holding [`WORKFLOW`] (keep the repository).
fn ui_server() -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    (crate::hooks::with_repo_project(TestServer::start(), &repo.path()), repo)
}

pub(crate) fn url(server: &TestServer, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

/// A tab logged in as the admin (the cookie `POST /login` sets).
pub(crate) fn logged_in<'b>(browser: &'b Browser, server: &TestServer) -> Page<'b> {
    let mut page = browser.new_page().expect("a page");
    let cookie = server.login(&server.admin);
    let id = cookie.strip_prefix("ferry_session=").expect("the session cookie");
    page.set_cookie(&url(server, "/"), "ferry_session", id).expect("the session cookie");
    page
}

/// Starts a run of `ci.yml` through the API; returns its id.
fn trigger(server: &TestServer) -> i64 {
    let res =
        server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&json!({"workflow": "ci.yml"})));
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()["runs"][0]["id"].as_i64().expect("a run id")
}

fn run(server: &TestServer, id: i64) -> Value {
    let res = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

/// Fails the test when the page's scripts threw.
pub(crate) fn assert_no_script_errors(page: &mut Page<'_>) {
    let errors: Vec<Value> = page
        .take_events()
        .into_iter()
        .filter(|event| event.method == "Runtime.exceptionThrown")
        .map(|event| event.params)
        .collect();
    assert!(errors.is_empty(), "the page's scripts threw: {errors:#?}");
}

/// JavaScript for the texts of step `step_idx`'s log lines, in page order.
fn lines_js(step_idx: i64) -> String {
    format!(
        "[...document.querySelectorAll('#steps .step[data-step-idx=\"{step_idx}\"] .line .text')].map(e => e.textContent)"
    )
}

/// JavaScript that is true when step 0's lines are exactly `expected`, in order.
fn lines_are(expected: &[&str]) -> String {
    format!("JSON.stringify({}) === {:?}", lines_js(0), serde_json::to_string(expected).expect("JSON"))
}

/// Where screenshots go: `<target dir>/ui-screenshots`.
fn screenshot_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("creating the screenshot folder");
    dir
}

#[test]
fn logging_in_through_the_form_shows_the_projects_and_a_bad_token_the_error() {
    let (server, _repo) = ui_server();
    let browser = Browser::start().expect("starting chromium");
    let mut page = browser.new_page().expect("a page");
    page.goto(&url(&server, "/")).expect("loading /");
    page.wait_for("location.pathname === '/login'", WAIT).expect("a page without a session leads to the login form");

    page.type_into("#token", "ferry_0000_1111").expect("the token field");
    page.click("form.login button[type=submit]").expect("the login button");
    page.wait_for("document.querySelector('form.login .error')?.textContent.includes('not valid')", WAIT)
        .expect("a bad token shows the error");
    assert_eq!(page.eval("document.querySelector('#token').value").expect("eval"), "", "a token is never echoed");

    page.type_into("#token", &server.admin).expect("the token field");
    page.click("form.login button[type=submit]").expect("the login button");
    page.wait_for(
        "location.pathname === '/' && !!document.querySelector('#projects a[href=\"/ui/projects/web\"]')",
        WAIT,
    )
    .expect("the projects page lists the project");
    let row = page.text("#projects tbody tr").expect("the project's row");
    assert!(row.contains("web") && row.contains("main") && row.contains("no runs yet"), "{row}");
    let cookie_visible_to_scripts = page.eval("document.cookie.includes('ferry_session')").expect("eval");
    assert_eq!(cookie_visible_to_scripts, false, "the session cookie is HttpOnly");

    page.click("form.logout button").expect("the logout button");
    page.wait_for("location.pathname === '/login'", WAIT).expect("logging out leads to the form");
    page.goto(&url(&server, "/")).expect("loading /");
    page.wait_for("location.pathname === '/login'", WAIT).expect("the session is gone");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_run_workflow_form_starts_a_run_and_its_page_shows_the_job_graph() {
    let (server, _repo) = ui_server();
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web")).expect("loading the project");
    page.click("#trigger-panel summary").expect("opening the form");
    page.type_into("#trigger-workflow", "ci.yml").expect("the workflow field");
    page.click("#trigger button[type=submit]").expect("the Run workflow button");
    page.wait_for("location.pathname.startsWith('/ui/runs/')", WAIT).expect("the page goes to the new run");

    let state = "(key) => document.querySelector(`#graph .job[data-key=\"${key}\"]`)?.dataset.state";
    page.wait_for(
        &format!(
            "(() => {{ const state = {state}; return state('build') === 'queued' && state('test') === 'waiting'; }})()"
        ),
        WAIT,
    )
    .expect("build is queued and test waits for it");
    let graph = page
        .eval(
            "(() => { const left = (key) => document.querySelector(`#graph .job[data-key=\"${key}\"]`).offsetLeft;
                return { edges: document.querySelectorAll('#graph path.edge').length, build: left('build'), test: left('test') }; })()",
        )
        .expect("eval");
    assert_eq!(graph["edges"], 1, "one line for `test` needs `build`: {graph}");
    assert!(graph["test"].as_i64() > graph["build"].as_i64(), "test is a column after build: {graph}");
    let header = page.text("#run-header").expect("the header");
    assert!(header.contains("CI") && header.contains("#1") && header.contains("add workflows"), "{header}");
    assert!(header.contains("workflow_dispatch by admin") && header.contains("main"), "{header}");

    page.goto(&url(&server, "/ui/projects/web")).expect("loading the project");
    let row = page.text("#runs tbody tr").expect("the run's row");
    assert!(row.contains("running") && row.contains("#1 CI") && row.contains("add workflows"), "{row}");
    page.screenshot_png(&screenshot_dir().join("project.png")).expect("a screenshot");
    assert_no_script_errors(&mut page);
}

#[test]
fn a_job_log_streams_live_with_colours_groups_and_search() {
    let (server, _repo) = ui_server();
    let id = trigger(&server);
    let build_id = run(&server, id)["jobs"][0]["id"].as_i64().expect("the build job");
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, &format!("/ui/runs/{id}?job={build_id}"))).expect("loading the run");
    page.wait_for("document.querySelector('#job-header h2')?.textContent === 'build'", WAIT)
        .expect("the build job is shown");

    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let build = runner.claim(1000).expect("build is claimable");
    runner.send(
        &build,
        1,
        json!([
            {"type": "step_started", "step_idx": 0, "name": "Build it", "at": 1},
            {"type": "lines", "step_idx": 0, "lines": [
                "##[group]Set up the toolchain", "rustc 1.95", "##[endgroup]",
                "\u{1b}[31mred\u{1b}[0m and plain", "<b>not bold</b>", "first done",
            ]},
        ]),
    );
    page.wait_for(&lines_are(&["rustc 1.95", "red and plain", "<b>not bold</b>", "first done"]), WAIT)
        .expect("the first lines appear while the step runs");
    let detail = run(&server, id);
    assert_eq!(detail["jobs"][0]["status"], "in_progress", "{detail:#}");
    assert_eq!(detail["jobs"][0]["steps"][0]["finished_at"], Value::Null, "the step has not finished: {detail:#}");
    page.wait_for(
        "document.querySelector('#steps .step[data-step-idx=\"0\"] .step-name')?.textContent === 'Build it'",
        WAIT,
    )
    .expect("the step gets its name from the API");
    let red = page
        .eval("(() => { const span = document.querySelector('#steps .line .text span.ansi-red'); return span && [span.textContent, getComputedStyle(span).color]; })()")
        .expect("eval");
    assert_eq!(red[0], "red", "the ANSI colour is a span: {red}");
    assert_ne!(
        red[1],
        page.eval("getComputedStyle(document.querySelector('#steps .line .text')).color").expect("eval")
    );
    let group = page
        .eval("(() => { const group = document.querySelector('#steps details.group'); return group && [group.querySelector('summary').textContent, group.querySelector('.line .text').textContent, group.open]; })()")
        .expect("eval");
    assert_eq!(group, json!(["Set up the toolchain", "rustc 1.95", false]), "the group is a closed <details>");
    assert_eq!(page.eval("document.querySelectorAll('#steps b').length").expect("eval"), 0, "log text is never HTML");

    runner.send(
        &build,
        2,
        json!([{"type": "lines", "step_idx": 0, "lines": ["second one", "second two", "##[error]it broke"]}]),
    );
    let all = ["rustc 1.95", "red and plain", "<b>not bold</b>", "first done", "second one", "second two", "it broke"];
    page.wait_for(&lines_are(&all), WAIT).expect("the later lines follow, in order, once each");
    assert_eq!(page.eval("document.querySelectorAll('#steps .line.error').length").expect("eval"), 1);

    page.type_into("#log-search", "second two").expect("the search box");
    let visible =
        "JSON.stringify([...document.querySelectorAll('#steps .line:not(.hidden) .text')].map(e => e.textContent))";
    page.wait_for(&format!("{visible} === '[\"second two\"]'"), WAIT).expect("the search filters to the matching line");
    page.eval("(() => { const search = document.querySelector('#log-search'); search.value = ''; search.dispatchEvent(new Event('input')); })()")
        .expect("clearing the search");
    page.wait_for(&format!("JSON.parse({visible}).length === {}", all.len()), WAIT).expect("every line is back");

    runner.send(
        &build,
        3,
        json!([
            {"type": "step_finished", "step_idx": 0, "outcome": "success", "conclusion": "success", "at": 2},
            {"type": "step_started", "step_idx": 1, "name": "Check", "at": 2},
            {"type": "lines", "step_idx": 1, "lines": ["\u{1b}[1;32mok\u{1b}[0m 12 tests passed", "##[warning]1 test is slow"]},
            {"type": "step_finished", "step_idx": 1, "outcome": "success", "conclusion": "success", "at": 3},
        ]),
    );
    runner.complete(&build, "success", json!({}));
    page.wait_for("document.querySelector('#graph .job[data-key=\"build\"]')?.dataset.state === 'success'", WAIT)
        .expect("the graph shows build succeeded");
    page.wait_for("document.querySelector('#graph .job[data-key=\"test\"]')?.dataset.state === 'queued'", WAIT)
        .expect("test is queued after build");
    page.wait_for("document.querySelector('#steps .step[data-step-idx=\"0\"]')?.dataset.state === 'success'", WAIT)
        .expect("the step shows success");
    page.wait_for(&format!("{}.length === 2", lines_js(1)), WAIT).expect("the second step's lines");
    assert_eq!(
        page.eval(&format!("JSON.stringify({})", lines_js(0))).expect("eval"),
        serde_json::to_string(&all).expect("JSON")
    );

    page.eval("document.querySelector('#steps details.group').open = true").expect("opening the group");
    let path = screenshot_dir().join("run.png");
    page.screenshot_png(&path).expect("a screenshot");
    assert!(std::fs::metadata(&path).expect("the screenshot").len() > 10_000, "{}", path.display());
    assert_no_script_errors(&mut page);
}

#[test]
fn the_cancel_button_cancels_a_running_run() {
    let (server, _repo) = ui_server();
    let id = trigger(&server);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let build = runner.claim(1000).expect("build is claimable");
    runner.send(
        &build,
        1,
        json!([
            {"type": "step_started", "step_idx": 0, "name": "Build it", "at": 1},
            {"type": "lines", "step_idx": 0, "lines": ["working"]},
        ]),
    );
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, &format!("/ui/runs/{id}"))).expect("loading the run");
    page.wait_for(&lines_are(&["working"]), WAIT).expect("the running job is shown with its log");
    page.click("button[data-action=cancel]").expect("the Cancel button");

    let job_id = build["job_id"].as_i64().expect("a job id");
    let start = Instant::now();
    while runner.call(&format!("/api/v1/runner/jobs/{job_id}/heartbeat"), &json!({})).json() != json!({"cancel": true})
    {
        assert!(start.elapsed() < WAIT, "the heartbeat never answered cancel");
        std::thread::sleep(Duration::from_millis(20));
    }
    runner.send(
        &build,
        2,
        json!([{"type": "step_finished", "step_idx": 0, "outcome": "cancelled", "conclusion": "cancelled", "at": 2}]),
    );
    runner.complete(&build, "cancelled", json!({}));
    page.wait_for("document.querySelector('#run-status')?.dataset.state === 'cancelled'", WAIT)
        .expect("the run shows cancelled");
    // The header and the graph are swapped in separately; wait for the graph too.
    let graph = "[...document.querySelectorAll('#graph .job')].map(job => `${job.dataset.key}: ${job.dataset.state}`)";
    let settled = page
        .wait_for(&format!("JSON.stringify({graph}) === JSON.stringify(['build: cancelled', 'test: skipped'])"), WAIT);
    let states = page.eval(graph).expect("eval");
    assert!(settled.is_ok(), "the graph shows the cancelled run: {states}");
    page.wait_for("!!document.querySelector('button[data-action=rerun]') && !document.querySelector('button[data-action=cancel]')", WAIT)
        .expect("a completed run offers Re-run instead of Cancel");
    assert_no_script_errors(&mut page);
}

#[test]
fn login_answers_cookies_redirects_and_assets_over_http() {
    let (server, _repo) = ui_server();
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let bad = server.request("POST", "/login", &form, b"token=ferry_00_11");
    assert_eq!(bad.status, 401, "{}", bad.body);
    assert!(bad.body.contains("not valid") && bad.body.contains("<form"), "{}", bad.body);
    let good = server.request("POST", "/login", &form, format!("token={}", server.admin).as_bytes());
    assert_eq!((good.status, good.header("location")), (303, Some("/")), "{}", good.body);
    let cookie = good.header("set-cookie").expect("a cookie");
    let id = cookie.strip_prefix("ferry_session=").and_then(|rest| rest.split(';').next()).expect("the session id");
    assert!(id.len() == 64 && id.bytes().all(|byte| byte.is_ascii_hexdigit()), "a random id: {cookie}");
    assert!(!cookie.contains(&server.admin), "the cookie does not hold the token: {cookie}");
    assert_eq!(cookie, format!("ferry_session={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"));
    let foreign = server.request(
        "POST",
        "/login",
        &[form[0], ("Origin", "http://evil.invalid")],
        format!("token={}", server.admin).as_bytes(),
    );
    assert_eq!(foreign.status, 403, "a form on another site cannot log anyone in: {}", foreign.body);

    for path in ["/", "/ui/projects/web", "/ui/runs/1"] {
        let res = server.request("GET", path, &[], b"");
        assert_eq!((res.status, res.header("location")), (303, Some("/login")), "{path}");
    }
    let session = format!("ferry_session={id}");
    let page = server.request("GET", "/", &[("Cookie", &session)], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(page.header("content-security-policy").is_some_and(|csp| csp.contains("script-src 'self'")));
    let missing = server.request("GET", "/ui/projects/nope", &[("Cookie", &session)], b"");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("project nope not found") && missing.body.contains("<html"), "{}", missing.body);

    let css_link = page.body.split("href=\"").find(|part| part.starts_with("/ui/assets/ferry.css?v="));
    let css_path = css_link.and_then(|part| part.split('"').next()).expect("the page links its stylesheet");
    let css = server.request("GET", css_path, &[], b"");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("public, max-age=31536000, immutable"));
    let js = server.request("GET", "/ui/assets/app.js", &[], b"");
    assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(server.request("GET", "/ui/assets/nope.js", &[], b"").status, 404);
}

#[test]
fn cookie_authenticated_writes_need_the_csrf_header() {
    let (server, _repo) = ui_server();
    let id = trigger(&server);
    let session = server.login(&server.admin);
    let cancel = format!("/api/v1/runs/{id}/cancel");
    let refused = server.request("POST", &cancel, &[("Cookie", &session)], b"");
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.json()["error"].as_str().unwrap_or_default().contains("X-Ferry-CSRF: 1"), "{}", refused.body);
    assert_eq!(run(&server, id)["run"]["conclusion"], Value::Null, "nothing was cancelled");

    let read = server.request("GET", &format!("/api/v1/runs/{id}"), &[("Cookie", &session)], b"");
    assert_eq!(read.status, 200, "reads need no header: {}", read.body);
    let wrong = server.request("POST", &cancel, &[("Cookie", &session), ("X-Ferry-CSRF", "yes")], b"");
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let accepted = server.request("POST", &cancel, &[("Cookie", &session), ("X-Ferry-CSRF", "1")], b"");
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let bearer = server.call("POST", &format!("/api/v1/runs/{id}/rerun"), Some(&server.admin), Some(&json!({})));
    assert_eq!(bearer.status, 201, "a bearer token needs no CSRF header: {}", bearer.body);
}

#[test]
fn the_approve_button_starts_a_fork_s_waiting_run() {
    let workflow = "on: pull_request\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", workflow)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res =
        server.call("PATCH", "/api/v1/projects/web", Some(&server.admin), Some(&json!({"require_approval": true})));
    assert_eq!(res.status, 200, "{}", res.body);
    let body = crate::forks::pull_request(&repo.head(), 2, "eve");
    let res = crate::hooks::github(&server, "web", "pull_request", &body, crate::hooks::SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let id = res.json()["runs"][0]["run"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    assert_eq!(runner.claim(0), None, "the run waits");
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, &format!("/ui/runs/{id}"))).expect("loading the run");
    page.wait_for("document.querySelector('#run-status')?.dataset.state === 'waiting'", WAIT)
        .expect("the run shows it waits");
    page.click("button[data-action=approve]").expect("the Approve button");
    page.wait_for("!document.querySelector('button[data-action=approve]')", WAIT)
        .expect("an approved run offers no Approve button");
    assert_ne!(run(&server, id)["run"]["status"], "waiting");
    let job = runner.claim(5_000).expect("the approved run's job");
    assert_eq!((job["run_id"].as_i64(), job["secrets"].clone()), (Some(id), json!({})));
    assert_no_script_errors(&mut page);
}

/// A server whose project `web` has release 1 of service `web`, made from a file; the file's
/// digest (keep the repository).
fn server_with_release() -> (TestServer, TestRepo, String) {
    let deploy = "environments:\n  staging: {}\nservices:\n  web:\n    run: python3 server.py\n    deploy:\n      staging: { port: 8001 }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW), (".ferry/deploy.yml", deploy)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let digest = release_by_hand(&server);
    (server, repo, digest)
}

/// Release 1 of service `web` of project `web`, made by the admin from one uploaded file
/// (`server.py`); the file's digest.
pub(crate) fn release_by_hand(server: &TestServer) -> String {
    let text = "print('hello')\n";
    let digest: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    let auth = format!("Bearer {}", server.admin);
    let res = server.request(
        "PUT",
        &format!("/api/v1/projects/web/blobs/{digest}"),
        &[("Authorization", auth.as_str())],
        text.as_bytes(),
    );
    assert_eq!(res.status, 204, "{}", res.body);
    let files = json!([{"path": "server.py", "sha256": digest, "size": text.len(), "mode": 420}]);
    let res = server.call(
        "POST",
        "/api/v1/projects/web/releases",
        Some(&server.admin),
        Some(&json!({"service": "web", "files": files})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    digest
}

#[test]
fn a_release_page_is_served_to_a_session_that_sees_its_project() {
    let (server, repo, digest) = server_with_release();
    let body = json!({"name": "api", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let session = server.login(&server.admin);
    let project = server.request("GET", "/ui/projects/web", &[("Cookie", &session)], b"");
    assert_eq!(project.status, 200, "{}", project.body);
    assert!(project.body.contains("href=\"/ui/projects/web/releases/web/1\""), "{}", project.body);
    let page = server.request("GET", "/ui/projects/web/releases/web/1", &[("Cookie", &session)], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    for expected in ["web · release 1", "add workflows", "server.py", digest.as_str(), "made from files"] {
        assert!(page.body.contains(expected), "{expected} in {}", page.body);
    }
    let missing = server.request("GET", "/ui/projects/web/releases/web/2", &[("Cookie", &session)], b"");
    assert_eq!(missing.status, 404, "{}", missing.body);
    let elsewhere = server.login(&server.scoped_token("viewer", Some(&["api"])));
    let hidden = server.request("GET", "/ui/projects/web/releases/web/1", &[("Cookie", &elsewhere)], b"");
    assert_eq!(hidden.status, 404, "another project's session sees no release: {}", hidden.body);
}

#[test]
fn a_release_is_listed_on_its_project_and_its_page_shows_commits_and_files() {
    let (server, _repo, digest) = server_with_release();
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web")).expect("loading the project");
    page.click("#releases a").expect("the release's link");
    page.wait_for("location.pathname === '/ui/projects/web/releases/web/1'", WAIT).expect("the release's page");
    // The address changes before the new page is parsed.
    page.wait_for("document.querySelector('#release-title') !== null", WAIT).expect("the release's title");
    assert_eq!(page.text("#release-title").expect("the title"), "web · release 1");
    let commits = page.text("#release-commits tbody").expect("the commits");
    assert!(commits.contains("add workflows") && commits.contains("Ada"), "{commits}");
    let files = page.text("#release-files tbody").expect("the files");
    assert!(files.contains("server.py") && files.contains(&digest), "{files}");
    assert!(page.text("#release-facts").expect("the facts").contains("made from files"));
    page.screenshot_png(&screenshot_dir().join("release.png")).expect("a screenshot");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_approve_button_passes_a_deployment_waiting_at_its_gate() {
    let deploy = "environments:\n  production: { approvals: 1 }\nservices:\n  web:\n    run: python3 server.py\n    \
                  deploy:\n      production: { port: 18093 }\n";
    let repo = TestRepo::new(&[(".ferry/deploy.yml", deploy)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": "local"})));
    assert_eq!(res.status, 201, "{}", res.body);
    // The release's author is the developer; the admin in the browser approves.
    let developer = server.token("developer");
    let text = "print('hello')\n";
    let digest: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    let auth = format!("Bearer {developer}");
    let path = format!("/api/v1/projects/web/blobs/{digest}");
    assert_eq!(server.request("PUT", &path, &[("Authorization", auth.as_str())], text.as_bytes()).status, 204);
    let files = json!([{"path": "server.py", "sha256": digest, "size": text.len(), "mode": 420}]);
    let body = json!({"service": "web", "files": files});
    assert_eq!(server.call("POST", "/api/v1/projects/web/releases", Some(&developer), Some(&body)).status, 201);
    let body = json!({"service": "web", "environment": "production"});
    let res = server.call("POST", "/api/v1/projects/web/deployments", Some(&developer), Some(&body));
    assert_eq!((res.status, res.json()["outcome"].as_str()), (201, Some("waiting")), "{}", res.body);
    let id = res.json()["id"].as_i64().expect("an id");

    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web/environments")).expect("loading the environments page");
    page.wait_for("!!document.querySelector('button[data-action=approve-deployment]')", WAIT)
        .expect("the waiting deployment offers its Approve button");
    page.click("button[data-action=approve-deployment]").expect("the Approve button");
    page.wait_for("!document.querySelector('button[data-action=approve-deployment]')", WAIT)
        .expect("an approved deployment offers no Approve button");
    let deployment = server.call("GET", &format!("/api/v1/deployments/{id}"), Some(&server.admin), None).json();
    assert_eq!(deployment["outcome"], "in_progress", "{deployment}");
    assert_eq!(deployment["approvals"][0]["by"], "admin", "{deployment}");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_approve_button_lets_a_job_waiting_at_its_environment_run() {
    let deploy = "environments:\n  production: { approvals: 1 }\nservices:\n  web:\n    run: python3 server.py\n    \
                  deploy:\n      production: { port: 18094 }\n";
    let workflow = "on: workflow_dispatch\njobs:\n  ship:\n    runs-on: linux\n    environment: production\n    \
                    steps:\n      - run: ./ship\n";
    let repo = TestRepo::new(&[(".ferry/deploy.yml", deploy), (".github/workflows/ship.yml", workflow)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    // The run's actor is the developer; the admin in the browser approves.
    let developer = server.token("developer");
    let body = json!({"workflow": "ship.yml"});
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&developer), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let run_id = res.json()["runs"][0]["id"].as_i64().expect("a run");
    let detail = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None).json();
    let id = detail["jobs"][0]["deployment"].as_i64().expect("the job's deployment");

    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web/environments")).expect("loading the environments page");
    page.wait_for("!!document.querySelector('#waiting-jobs button[data-action=approve-deployment]')", WAIT)
        .expect("the waiting job offers its Approve button");
    assert!(page.text("#waiting-jobs").expect("the waiting jobs").contains("job ship"));
    page.click("#waiting-jobs button[data-action=approve-deployment]").expect("the Approve button");
    page.wait_for("!document.querySelector('button[data-action=approve-deployment]')", WAIT)
        .expect("an approved job offers no Approve button");
    let deployment = server.call("GET", &format!("/api/v1/deployments/{id}"), Some(&server.admin), None).json();
    assert_eq!(
        (deployment["outcome"].as_str(), deployment["approvals"][0]["by"].as_str()),
        (Some("queued"), Some("admin"))
    );
    let detail = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None).json();
    assert_eq!(detail["jobs"][0]["status"], "queued", "let go to runners: {detail}");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_dora_page_shows_the_keys_with_tiers_and_resolves_an_incident() {
    let repo = TestRepo::new(&[("README", "one")]);
    let c1 = repo.head();
    let c2 = repo.commit(&[("README", "two")], "two");
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
    let t = i64::try_from(start).expect("ms") + 60_000;
    // One success and one failure of web; an open incident on web, which names no cause and so
    // is attributed to the last success before it: both deployments count as failed. api
    // succeeds once.
    let events = json!({
        "deployments": [
            {"service": "web", "environment": "production", "commit": c1, "finished_at": t, "outcome": "succeeded"},
            {"service": "web", "environment": "production", "commit": c2, "finished_at": t + 60_000, "outcome": "failed"},
            {"service": "api", "environment": "production", "commit": c1, "finished_at": t, "outcome": "succeeded"},
        ],
        "incidents": [{"service": "web", "environment": "production", "started_at": t + 120_000, "title": "checkout broken"}],
    });
    let res = server.call("POST", "/api/v1/projects/web/dora/events", Some(&server.admin), Some(&events));
    assert_eq!(res.status, 201, "{}", res.body);
    let incident = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.admin), None).json()[0]["id"]
        .as_i64()
        .expect("the incident");

    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web")).expect("loading the project");
    page.click("#dora-link").expect("the DORA link");
    page.wait_for("!!document.querySelector('#change-failure-rate')", WAIT).expect("the DORA page");
    // The window ends after the events (they are a minute ahead of this machine's clock).
    let until = ferry_dora::rfc3339(t / 1000 + 86_400);
    // By default, every service of the project added up.
    page.goto(&url(&server, &format!("/ui/projects/web/dora?until={until}"))).expect("the page");
    page.wait_for("!!document.querySelector('#change-failure-rate')", WAIT).expect("the keys");
    assert_eq!(page.eval("document.querySelector('select[name=service]').value").expect("the picker"), "");
    let failures = page.text("#change-failure-rate").expect("the change failure rate");
    assert!(failures.contains("67 %") && failures.contains("2 failed of 3"), "{failures}");
    assert!(page.text("#dora-window").expect("the scope").contains("All services in production"));
    page.goto(&url(&server, &format!("/ui/projects/web/dora?service=web&until={until}"))).expect("the page");
    page.wait_for("!!document.querySelector('#change-failure-rate')", WAIT).expect("the keys");
    let failures = page.text("#change-failure-rate").expect("the change failure rate");
    assert!(failures.contains("100 %") && failures.contains("2 failed of 2"), "{failures}");
    assert!(page.text("#deployment-frequency").expect("frequency").contains("1 deployments"));
    let tier = page.eval("document.querySelector('#change-failure-rate [data-tier]').dataset.tier").expect("a tier");
    assert_eq!(tier, "low", "failures above 30 % are the low cluster");
    assert!(page.text("#incidents").expect("incidents").contains("checkout broken"));
    page.click(&format!("tr[data-incident-id='{incident}'] button[data-action=resolve-incident]")).expect("Resolve");
    page.wait_for("!document.querySelector('button[data-action=resolve-incident]')", WAIT)
        .expect("a resolved incident offers no Resolve button");
    let listed = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.admin), None).json();
    assert!(listed[0]["resolved_at"].is_i64(), "{listed}");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_metrics_explorer_graphs_a_query_and_shows_prometheus_errors() {
    let (server, _repo) = ui_server();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    // Two series over the last 30 minutes, a sample a minute.
    let mut text = String::from("# TYPE requests counter\n");
    for minute in (0..30).rev() {
        let at = now - minute * 60;
        for code in ["200", "500"] {
            text.push_str(&format!("requests_total{{code=\"{code}\"}} {} {at}\n", (30 - minute) * 10));
        }
    }
    text.push_str("# EOF\n");
    crate::slos::import(&server, &text);

    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/")).expect("the projects");
    page.click("#metrics-link").expect("the Metrics link");
    page.wait_for("!!document.querySelector('#metrics-expr')", WAIT).expect("the explorer");
    page.type_into("#metrics-expr", "rate(requests_total[5m])").expect("typing the query");
    page.click("#metrics-run").expect("Graph");
    page.wait_for("!!document.querySelector('#chart polyline')", WAIT).expect("the graph");
    let drawn = page.eval("document.querySelectorAll('#chart polyline').length").expect("series");
    assert_eq!(drawn, 2);
    let points = page
        .eval("document.querySelector('#chart polyline').getAttribute('points').split(' ').length")
        .expect("points");
    assert!(points.as_u64().is_some_and(|n| n > 10), "{points}");
    let legend = page.text("#legend").expect("the legend");
    assert!(legend.contains("{code=\"200\"}") && legend.contains("{code=\"500\"}"), "{legend}");

    page.goto(&url(&server, "/ui/metrics?query=rate(requests_total)&range=1h")).expect("a bad query");
    let error = page.text("#metrics-error").expect("the error");
    assert!(error.starts_with("bad_data:") && error.contains("expected type matrix"), "{error}");
    assert_no_script_errors(&mut page);
}

#[test]
fn the_slo_page_shows_each_budget_and_its_burn_chart() {
    let repo = TestRepo::new(&[(
        ".ferry/deploy.yml",
        "environments: { production: {} }\nservices:\n  web:\n    run: x\n    deploy: { production: { port: 18103 } }\n    slos:\n      - { name: availability, objective: 99, window: 1h, sli: proxy-availability }\n",
    )]);
    // The fake clock stands at the end of an hour of counters, the first half clean, then
    // 4 % of the requests failing: 120 failed of 6000 over the hour, 2 % against a budget
    // of 1 %, so −100 % of the budget is left.
    let t0: i64 = 1_796_032_800_000;
    let clock = ferry_testkit::FakeClock::at(t0);
    let server = crate::hooks::with_repo_project(
        TestServer::start_with_clock(std::sync::Arc::new(clock.clone()), |_| {}),
        &repo.path(),
    );
    let labels = r#"project="web",service="web",environment="production",release="1""#;
    let mut text = String::from("# TYPE ferry_proxy_requests counter\n");
    for minute in 0..=60 {
        let failing = (minute - 30).max(0);
        let at = t0 / 1000 - (60 - minute) * 60;
        text.push_str(&format!(
            "ferry_proxy_requests_total{{{labels},code_class=\"2xx\"}} {} {at}\n",
            100 * minute - 4 * failing
        ));
        text.push_str(&format!("ferry_proxy_requests_total{{{labels},code_class=\"5xx\"}} {} {at}\n", 4 * failing));
    }
    text.push_str("# EOF\n");
    crate::slos::import(&server, &text);

    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/ui/projects/web")).expect("loading the project");
    page.click("#slos-link").expect("the SLOs link");
    page.wait_for("!!document.querySelector('section.slo')", WAIT).expect("the SLO page");
    let panel = page.text("#slo-web-production-availability").expect("the SLO's panel");
    assert!(panel.contains("Objective 99 % over 1h"), "{panel}");
    assert!(panel.contains("budget left -100.0 %") && panel.contains("errors 2.0 %"), "{panel}");
    let status = page.eval("document.querySelector('#slo-web-production-availability [data-status]').dataset.status");
    assert_eq!(status.expect("a status"), "exhausted");
    // The chart: the budget left over the hour, whole until the errors began, then falling
    // below the zero line.
    let points = page
        .eval("document.querySelector('#burn-web-production-availability polyline').getAttribute('points').split(' ').length")
        .expect("points");
    assert!(points.as_u64().is_some_and(|n| n > 100), "{points}");
    let ys = page
        .eval(
            "(() => { const zero = +document.querySelector('#burn-web-production-availability line.zero').getAttribute('y1');
              const ys = document.querySelector('#burn-web-production-availability polyline').getAttribute('points')
                .split(' ').map(p => +p.split(',')[1]);
              return [ys[0] < zero, ys[ys.length - 1] > zero]; })()",
        )
        .expect("the line against the zero line");
    assert_eq!(ys, json!([true, true]), "the budget starts above zero and ends below it");
    assert_no_script_errors(&mut page);
}
