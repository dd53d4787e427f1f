//! The log follower's JSON for a chunk, checked against serde_json's reading of it.

use serde_json::json;

use super::*;

#[test]
fn a_chunk_is_the_json_of_its_lines_whatever_they_hold() {
    let texts = [
        "plain\n",
        "compiling ferry v0.1.0\ndone\n",
        "a \"quoted\" word\nC:\\path\\to\n",
        "\u{1b}[31mred\u{1b}[0m\ttabbed\u{7}\n",
        "crlf\r\nnext\n",
        "ünïcödé — \u{2028} 🚢\n",
        "\n\n",
        "",
    ];
    for text in texts {
        let written = chunk_json(7, 2, 3, text);
        let parsed: Value =
            serde_json::from_str(&written).unwrap_or_else(|error| panic!("{text:?}: {error}: {written}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(parsed, json!({"job_id": 7, "step_idx": 2, "seq": 3, "lines": lines}), "{text:?}");
        let view: LogChunkView = serde_json::from_str(&written).expect("a LogChunkView");
        assert_eq!(view.lines, lines, "{text:?}");
    }
}
