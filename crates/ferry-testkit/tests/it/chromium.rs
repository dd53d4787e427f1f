//! The headless Chromium harness against a tiny HTTP server in the test: clicks and timers
//! change the page and `wait_for` sees it, JavaScript exceptions and timeouts are errors that
//! say what happened, auth headers and cookies reach the server, and no Chromium outlives its
//! `Browser`, whether it is dropped or the test process dies.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::{Browser, ChromiumError};

/// Set in a child copy of this binary that starts Chromium, prints its pid and directory and aborts.
const ABORT_CHILD: &str = "FERRY_TESTKIT_CHROMIUM_ABORT_CHILD";

const WAIT: Duration = Duration::from_secs(10);

/// A button whose click writes into `#out`, a timer that fills `#timer` a little after load,
/// and an input.
const APP: &str = r#"<!doctype html>
<title>app</title>
<button id="go" onclick="document.querySelector('#out').textContent = 'clicked ' + (++window.clicks)">Go</button>
<p id="out">not clicked</p>
<p id="timer">waiting</p>
<input id="name" value="ab">
<button id="hidden" style="display: none">Hidden</button>
<script>
  window.clicks = 0;
  setTimeout(() => { document.querySelector('#timer').textContent = 'fired'; }, 300);
</script>
"#;

/// Serves [`APP`] at `/` and, at `/headers`, the request's headers in `<pre>`; returns the
/// base URL. The server thread lives as long as the test process.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("the bound address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                request.push(line.trim_end().to_owned());
                line.clear();
            }
            let path = request.first().and_then(|line| line.split(' ').nth(1)).unwrap_or("/");
            let (status, body) = match path {
                "/" => ("200 OK", APP.to_owned()),
                "/headers" => {
                    let headers = request[1..].join("\n").replace('&', "&amp;").replace('<', "&lt;");
                    ("200 OK", format!("<!doctype html><pre id=\"headers\">{headers}</pre>"))
                }
                _ => ("404 Not Found", "not found".to_owned()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = (&stream).write_all(response.as_bytes());
        }
    });
    url
}

/// Whether a process in process group `pgid` still runs (zombies do not run).
fn group_is_running(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
        fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z")
    })
}

/// Waits (bounded) until no process of group `pgid` runs and `dir` is gone.
fn wait_until_gone(pgid: u32, dir: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !group_is_running(pgid) && !dir.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn clicks_timers_and_typing_change_the_page() {
    let url = serve();
    let browser = Browser::start().expect("starting chromium");
    let mut page = browser.new_page().expect("a page");
    page.goto(&url).expect("loading the app");
    assert_eq!(page.text("#out").expect("#out"), "not clicked");

    let fired = page.wait_for("document.querySelector('#timer').textContent === 'fired'", WAIT).expect("the timer");
    assert_eq!(fired, true);
    page.click("#go").expect("clicking");
    page.click("#go").expect("clicking again");
    page.wait_for("window.clicks === 2", WAIT).expect("two clicks");
    assert_eq!(page.text("#out").expect("#out"), "clicked 2");

    page.type_into("#name", "c d").expect("typing");
    assert_eq!(page.eval("document.querySelector('#name').value").expect("the value"), "abc d");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let png = dir.path().join("app.png");
    page.screenshot_png(&png).expect("a screenshot");
    let bytes = std::fs::read(&png).expect("reading the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
}

#[test]
fn javascript_exceptions_missing_elements_and_timeouts_are_errors() {
    let url = serve();
    let browser = Browser::start().expect("starting chromium");
    let mut page = browser.new_page().expect("a page");
    page.goto(&url).expect("loading the app");

    assert_eq!(page.eval("1 + 1").expect("a value"), 2);
    assert_eq!(page.eval("Promise.resolve('later')").expect("an awaited value"), "later");
    let thrown = page.eval("throw new Error('boom')").expect_err("a thrown error");
    assert!(matches!(&thrown, ChromiumError::Js(message) if message.starts_with("Error: boom")), "{thrown}");
    let rejected = page.eval("Promise.reject(new TypeError('nope'))").expect_err("a rejected promise");
    assert!(matches!(&rejected, ChromiumError::Js(message) if message.contains("TypeError: nope")), "{rejected}");

    let missing = page.click("#missing").expect_err("no such element");
    assert_eq!(missing.to_string(), r##"no element matches "#missing""##);
    assert!(matches!(page.click("#hidden"), Err(ChromiumError::NotVisible { .. })));
    assert!(matches!(page.text("#missing"), Err(ChromiumError::NoElement { .. })));

    let started = Instant::now();
    let timeout = page.wait_for("document.title === 'never'", Duration::from_millis(300)).expect_err("a timeout");
    assert!(started.elapsed() >= Duration::from_millis(300), "waited the whole timeout");
    let message = timeout.to_string();
    assert!(message.contains("`document.title === 'never'`"), "names the condition: {message}");
    assert!(message.contains(&format!("on {url}/")), "names the URL: {message}");
    assert!(message.contains("last result: false"), "gives the last result: {message}");
    assert!(message.contains("not clicked"), "quotes the page's text: {message}");

    let closed_port = TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port");
    let refused = page.goto(&format!("http://{closed_port}/")).expect_err("nothing listens on a closed port");
    assert!(
        matches!(&refused, ChromiumError::Navigation { error, .. } if error == "net::ERR_CONNECTION_REFUSED"),
        "{refused}"
    );
}

#[test]
fn extra_headers_and_cookies_reach_the_server() {
    let url = serve();
    let browser = Browser::start().expect("starting chromium");
    let mut page = browser.new_page().expect("a page");
    page.set_extra_http_headers(&[("Authorization", "Bearer ferry_abc_secret")]).expect("setting a header");
    page.set_cookie(&url, "session", "s3cret").expect("setting a cookie");
    page.goto(&format!("{url}/headers")).expect("loading /headers");
    let headers = page.text("#headers").expect("the echoed headers");
    assert!(headers.contains("Authorization: Bearer ferry_abc_secret"), "{headers}");
    assert!(headers.contains("Cookie: session=s3cret"), "{headers}");
}

#[test]
fn drop_leaves_no_chromium_behind() {
    let browser = Browser::start().expect("starting chromium");
    let page = browser.new_page().expect("a page");
    let (pid, dir) = (browser.pid(), browser.dir().to_owned());
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "chromium runs");
    assert!(dir.join("profile").exists(), "with its profile");
    drop(page);
    drop(browser);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "chromium exited and was reaped");
    assert!(!group_is_running(pid), "none of its renderers and helpers runs");
    assert!(!dir.exists(), "its directory is deleted");
}

#[test]
fn chromium_is_stopped_when_the_process_dies() {
    if std::env::var_os(ABORT_CHILD).is_some() {
        let browser = Browser::start().expect("starting chromium");
        println!("{} {}", browser.pid(), browser.dir().display());
        std::process::abort();
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args(["--exact", "chromium::chromium_is_stopped_when_the_process_dies", "--nocapture"])
        .env(ABORT_CHILD, "1")
        .stderr(Stdio::null())
        .output()
        .expect("running the child");
    assert!(!output.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (pid, dir) = stdout
        .lines()
        .find_map(|line| {
            let (pid, dir) = line.split_once(' ')?;
            Some((pid.parse::<u32>().ok()?, Path::new(dir).to_owned()))
        })
        .expect("the child printed chromium's pid and directory");
    assert!(wait_until_gone(pid, &dir), "the watchdog stopped chromium {pid} and deleted {}", dir.display());
}
