//! The log follower's chunk events, their JSON checked against serde_json's reading of it.

use std::collections::VecDeque;

use ferry_proto::runs::LogChunkView;
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
