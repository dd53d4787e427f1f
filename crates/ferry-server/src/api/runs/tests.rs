//! The log follower's chunk events, their JSON checked against serde_json's reading of it.

use std::collections::VecDeque;

use ferry_proto::runs::LogChunkView;
use ferry_store::NewProject;
use http_body_util::BodyExt as _;
use serde_json::json;
use tokio::time::Instant;

use super::*;

#[test]
fn a_chunk_event_is_one_data_line_of_the_json_of_its_lines_whatever_they_hold() {
    let texts = [
        "plain\n",
        "compiling ferry v0.1.0\ndone\n",
        "a \"quoted\" word\nC:\\path\\to\n",
        "\u{1b}[31mred\u{1b}[0m\ttabbed\u{7}\n",
        "crlf\r\nnext\n",
        "ünïcödé — \u{2028} 🚢\n",
        "\n\n",
        "first\n\nthird\n",
        "a last line without its end",
        "a last line ending in a CR\r",
        "",
    ];
    for text in texts {
        let event = String::from_utf8(chunk_event(7, 2, 3, text.as_bytes())).expect("UTF-8");
        let written = event
            .strip_prefix("event: chunk\ndata: ")
            .and_then(|rest| rest.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{text:?}: not one chunk event: {event:?}"));
        assert!(!written.contains('\n'), "{text:?}: one data line: {event:?}");
        let parsed: Value =
            serde_json::from_str(written).unwrap_or_else(|error| panic!("{text:?}: {error}: {written}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(parsed, json!({"job_id": 7, "step_idx": 2, "seq": 3, "lines": lines}), "{text:?}");
        let view: LogChunkView = serde_json::from_str(written).expect("a LogChunkView");
        assert_eq!(view.lines, lines, "{text:?}");
    }
}

/// Events due at given times; waiting for one keeps its time, as the follower keeps its place.
struct Timed(VecDeque<(Instant, &'static str)>);

impl EventSource for Timed {
    fn next_event(&mut self) -> impl Future<Output = Option<Bytes>> + Send {
        let next = self.0.front().copied();
        async move {
            let (due, text) = next?;
            tokio::time::sleep_until(due).await;
            self.0.pop_front();
            Some(Bytes::from_static(text.as_bytes()))
        }
    }
}

#[tokio::test]
async fn a_quiet_stream_carries_comments_and_loses_no_event() {
    let start = Instant::now();
    let source = Timed(VecDeque::from([
        (start, "event: chunk\ndata: 1\n\n"),
        (start + Duration::from_secs(1), "event: chunk\ndata: 2\n\n"),
        (start + Duration::from_secs(1), "event: end\ndata: {}\n\n"),
    ]));
    let mut body = event_stream(source, Duration::from_millis(10), LogFormat::Sse.keep_alive());
    let mut frames = Vec::new();
    while let Some(frame) = body.frame().await {
        let data = frame.expect("a frame").into_data().expect("data");
        frames.push(String::from_utf8(data.to_vec()).expect("UTF-8"));
    }
    let events: Vec<&str> = frames.iter().map(String::as_str).filter(|frame| *frame != ":\n\n").collect();
    assert_eq!(events, ["event: chunk\ndata: 1\n\n", "event: chunk\ndata: 2\n\n", "event: end\ndata: {}\n\n"]);
    let comments = frames.iter().position(|frame| frame.contains("data: 2")).expect("event 2") - 1;
    assert!(comments >= 1, "a second of quiet with comments every 10 ms has some: {frames:?}");
    assert_eq!(frames.first().map(String::as_str), Some("event: chunk\ndata: 1\n\n"));
}

/// A follower of run 1 on a server in `dir`, in `format`.
async fn follower_of_a_new_server(dir: &std::path::Path, format: LogFormat) -> Follower {
    let config = crate::ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..crate::ServerConfig::new(dir.to_path_buf())
    };
    let state = crate::bind(&config).await.expect("the server starts").state;
    Follower {
        live: Some(state.pipeline.log_feed.subscribe()),
        changed: state.pipeline.logs_changed.subscribe(),
        shutting_down: state.pipeline.shutting_down.subscribe(),
        state,
        run_id: 1,
        job: None,
        format,
        cursors: HashMap::new(),
        pending: VecDeque::new(),
        read_store: true,
        done: false,
    }
}

#[tokio::test]
async fn issue_13_a_store_error_ends_a_followed_log_with_an_error_never_an_end() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for format in [LogFormat::Sse, LogFormat::Framed] {
        let mut follower = follower_of_a_new_server(&dir.path().join(format!("{format:?}")), format).await;
        follower.state.store.close().await;
        let last = follower.next().await.expect("an event saying why");
        let last = String::from_utf8(last.to_vec()).expect("UTF-8");
        assert!(last.contains("error") && last.contains("reading the log from the server's database failed"), "{last}");
        assert!(!last.contains("end"), "{last}");
        assert_eq!(follower.next().await, None, "the stream is over");
    }
}

#[tokio::test]
async fn issue_13_a_followed_log_ends_when_the_server_shuts_down() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut follower = follower_of_a_new_server(dir.path(), LogFormat::Framed).await;
    let project = NewProject { name: "web", repo: "/srv/web.git", branch: "main", webhook_secret: "" };
    let project = follower.state.store.projects().create(&project, 0).await.expect("a project");
    let run = NewRun {
        project_id: project.id,
        workflow_file: ".github/workflows/ci.yml",
        workflow_name: "CI",
        event: "push",
        git_ref: "refs/heads/main",
        sha: "0123456789abcdef0123456789abcdef01234567",
        trigger_actor: "test",
        trigger_info: "{}",
        workflow_src: "",
        title: "",
        author: "",
        rerun_of: None,
    };
    follower.run_id = follower.state.store.runs().create(&run, 0).await.expect("a run").id;
    // The run never completes: the follower waits on the feed until the shutdown.
    let pipeline = follower.state.pipeline.clone();
    let next = tokio::spawn(async move { follower.next().await });
    tokio::task::yield_now().await;
    pipeline.shutting_down.send_replace(true);
    let last = next.await.expect("the follower's task").expect("an error frame");
    let head: LogFrameHead = serde_json::from_slice(&last).expect("a frame head");
    assert_eq!(
        head,
        LogFrameHead::Error { message: "the server is shutting down; follow the log again once it is back".to_owned() }
    );
}
