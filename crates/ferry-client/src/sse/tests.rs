//! The event-stream parser on streams as servers write them, cut at every possible place.

use super::*;

/// The events of `stream` read in one piece, checked to be the same when it arrives in
/// pieces cut at every byte.
fn parse(stream: &str) -> Vec<(String, String)> {
    let mut parser = SseParser::new();
    let whole: Vec<(String, String)> =
        parser.push(stream.as_bytes()).into_iter().map(|event| (event.event, event.data)).collect();
    for cut in 0..=stream.len() {
        let (head, tail) = stream.as_bytes().split_at(cut);
        let mut parser = SseParser::new();
        let mut events = parser.push(head);
        events.extend(parser.push(tail));
        let pieces: Vec<(String, String)> = events.into_iter().map(|event| (event.event, event.data)).collect();
        assert_eq!(pieces, whole, "cut at byte {cut} of {stream:?}");
    }
    let mut parser = SseParser::new();
    let bytewise: Vec<(String, String)> =
        stream.as_bytes().chunks(1).flat_map(|byte| parser.push(byte)).map(|event| (event.event, event.data)).collect();
    assert_eq!(bytewise, whole, "one byte at a time: {stream:?}");
    whole
}

fn event(event: &str, data: &str) -> (String, String) {
    (event.to_owned(), data.to_owned())
}

#[test]
fn named_events_end_at_a_blank_line() {
    let events = parse("event: chunk\ndata: {\"seq\":1}\n\nevent: end\ndata: {}\n\n");
    assert_eq!(events, [event("chunk", "{\"seq\":1}"), event("end", "{}")]);
}

#[test]
fn every_line_ending_counts() {
    assert_eq!(parse("event: a\r\ndata: 1\r\n\r\n"), [event("a", "1")]);
    assert_eq!(parse("event: a\rdata: 1\r\r"), [event("a", "1")]);
    assert_eq!(parse("event: a\ndata: 1\r\n\r"), [event("a", "1")]);
}

#[test]
fn comments_are_keep_alives_and_change_nothing() {
    let events = parse(": keep-alive\n\nevent: chunk\n: in the middle\ndata: x\n\n:\n\n");
    assert_eq!(events, [event("chunk", "x")]);
}

#[test]
fn data_lines_join_with_newlines_and_one_leading_space_is_dropped() {
    assert_eq!(parse("data: a\ndata:b\ndata:  c\n\n"), [event("message", "a\nb\n c")]);
    assert_eq!(parse("data\n\n"), [event("message", "")]);
}

#[test]
fn an_event_without_data_is_not_dispatched_and_its_type_is_forgotten() {
    assert_eq!(parse("event: lonely\n\ndata: x\n\n"), [event("message", "x")]);
}

#[test]
fn unknown_fields_id_and_retry_are_ignored() {
    assert_eq!(parse("id: 7\nretry: 100\nfoo: bar\nevent: end\ndata: {}\n\n"), [event("end", "{}")]);
}

#[test]
fn an_unfinished_event_waits_for_its_blank_line() {
    let mut parser = SseParser::new();
    assert_eq!(parser.push(b"event: chunk\ndata: x\n"), []);
    assert_eq!(parser.push(b"\n"), [SseEvent { event: "chunk".to_owned(), data: "x".to_owned() }]);
}

#[test]
fn a_leading_byte_order_mark_is_dropped() {
    assert_eq!(parse("\u{feff}event: end\ndata: {}\n\n"), [event("end", "{}")]);
}
