//! The log follower's chunk events, their JSON checked against serde_json's reading of it.

use serde_json::json;

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
        "",
    ];
    for text in texts {
        let event = chunk_event(7, 2, 3, text);
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
