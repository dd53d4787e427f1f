//! Framed log streams read back whatever pieces their bytes arrive in, and every fault in
//! one is named.

use super::*;

fn chunk(job_id: i64, step_idx: i64, seq: i64, text: &str) -> Vec<u8> {
    let mut frame = LogFrameHead::chunk(job_id, step_idx, seq, text.as_bytes()).encode();
    frame.extend_from_slice(text.as_bytes());
    frame
}

fn decode_in_pieces(stream: &[u8], piece: usize) -> (Vec<LogFrame>, Option<String>) {
    let mut decoder = LogStreamDecoder::new();
    let mut frames = Vec::new();
    for bytes in stream.chunks(piece) {
        decoder.push(bytes);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error.to_string())),
            }
        }
    }
    assert!(decoder.is_between_frames() || frames.last() != Some(&LogFrame::End));
    (frames, None)
}

#[test]
fn a_stream_reads_back_the_same_frames_in_pieces_of_any_size() {
    let mut stream = Vec::new();
    stream.extend(chunk(3, 0, 1, "hello\nworld\n"));
    stream.extend(b"\n\n");
    stream.extend(chunk(3, 1, 1, ""));
    stream.extend(chunk(4, 0, 2, "ünïcödé 🚢 \"quoted\" \\ \u{1b}[31mred\r\n\n"));
    stream.extend(LogFrameHead::End.encode());
    let text = |job_id, step_idx, seq, text: &str| {
        LogFrame::Chunk(LogChunkText { job_id, step_idx, seq, text: text.to_owned() })
    };
    let want = vec![
        text(3, 0, 1, "hello\nworld\n"),
        text(3, 1, 1, ""),
        text(4, 0, 2, "ünïcödé 🚢 \"quoted\" \\ \u{1b}[31mred\r\n\n"),
        LogFrame::End,
    ];
    for piece in 1..=stream.len() {
        assert_eq!(decode_in_pieces(&stream, piece), (want.clone(), None), "pieces of {piece} bytes");
    }
    assert_eq!(
        String::from_utf8(chunk(3, 0, 1, "a\n")).expect("UTF-8"),
        "{\"type\":\"chunk\",\"job_id\":3,\"step_idx\":0,\"seq\":1,\"bytes\":2}\na\n"
    );
    assert_eq!(LogFrameHead::End.encode(), b"{\"type\":\"end\"}\n");
}

#[test]
fn a_broken_stream_gives_its_frames_before_the_fault_and_then_says_what_is_wrong() {
    let good = chunk(1, 0, 1, "fine\n");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json\n".to_vec(), "a log frame's head is not a chunk, end or error frame"),
        (b"{\"type\":\"picture\"}\n".to_vec(), "a log frame's head is not a chunk, end or error frame"),
        (b"{\"type\":\"chunk\",\"job_id\":1,\"step_idx\":0,\"seq\":2,\"bytes\":2}\n\xff\n".to_vec(), "is not UTF-8"),
        (chunk(1, 0, 2, "no line end"), "does not end with a line end"),
        (
            b"{\"type\":\"chunk\",\"job_id\":1,\"step_idx\":0,\"seq\":2,\"bytes\":99999999999}\n".to_vec(),
            "more than the 67108864 a chunk may have",
        ),
        ([b"{\"type\":\"end\"}\n".as_slice(), b"more"].concat(), "the log stream goes on after its end frame"),
        (vec![b'x'; MAX_HEAD_BYTES + 1], "longer than 4096 bytes"),
    ];
    for (bad, message) in cases {
        let stream = [good.as_slice(), &bad].concat();
        for piece in [1, 7, stream.len()] {
            let (frames, error) = decode_in_pieces(&stream, piece);
            assert_eq!(frames.len(), 1 + usize::from(bad.starts_with(b"{\"type\":\"end\"}")), "{message}");
            let error = error.unwrap_or_else(|| panic!("no error for {message}"));
            assert!(error.contains(message), "{error} (wanted {message})");
        }
    }
}

#[test]
fn a_stream_cut_inside_a_frame_is_not_between_frames() {
    let stream = chunk(1, 0, 1, "some text\n");
    let mut decoder = LogStreamDecoder::new();
    decoder.push(&stream[..stream.len() - 3]);
    assert_eq!(decoder.next_frame(), Ok(None));
    assert!(!decoder.is_between_frames());
    decoder.push(&stream[stream.len() - 3..]);
    assert!(matches!(decoder.next_frame(), Ok(Some(LogFrame::Chunk(_)))));
    assert!(decoder.is_between_frames());
    decoder.push(b"{\"type\":");
    assert!(!decoder.is_between_frames());
}

#[test]
fn a_chunks_lines_are_those_str_lines_finds() {
    let texts = [
        "",
        "\n",
        "one\n",
        "one\ntwo\n",
        "crlf\r\nlf\n",
        "\r\n",
        "a bare \r inside\n",
        "ends with a bare \r",
        "no line end",
        "\n\nempty lines\n\n",
        "ünïcödé\r\n\u{1b}[1mbold\u{1b}[0m\n",
    ];
    for text in texts {
        let chunk = LogChunkText { job_id: 1, step_idx: 0, seq: 1, text: text.to_owned() };
        let got: Vec<&str> = chunk.lines().collect();
        let want: Vec<&str> = text.lines().collect();
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn issue_13_an_error_frame_ends_the_stream_with_the_servers_reason() {
    let mut stream = LogFrameHead::chunk(1, 0, 1, b"a\n").encode();
    stream.extend_from_slice(b"a\n");
    stream.extend(LogFrameHead::Error { message: "the server is shutting down".to_owned() }.encode());
    let (frames, fault) = decode_in_pieces(&stream, 3);
    assert_eq!(fault, None);
    assert_eq!(frames.last(), Some(&LogFrame::Error("the server is shutting down".to_owned())));
    assert_eq!(frames.len(), 2);
}
