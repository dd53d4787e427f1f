//! Line splitting and program lookup; running real processes is in `tests/it/process.rs`.

use std::ffi::OsStr;

use super::{MAX_LINE, Pipe, Stream, chunk_end, on_path};

/// Feeds `reads` through a pipe's line splitting and returns the delivered lines.
fn split(reads: &[&[u8]]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut on_line = |_: Stream, line: &str| lines.push(line.to_owned());
    let mut pipe = Pipe::new(&b""[..]);
    for read in reads {
        // Like a real read, take no more than the buffer has room for.
        let mut rest = *read;
        while !rest.is_empty() {
            let spare = pipe.spare();
            let n_read = rest.len().min(spare.len());
            spare[..n_read].copy_from_slice(&rest[..n_read]);
            pipe.deliver(n_read, Stream::Stdout, &mut on_line);
            rest = &rest[n_read..];
        }
    }
    pipe.deliver(0, Stream::Stdout, &mut on_line);
    assert!(!pipe.open);
    pipe.finish(Stream::Stdout, &mut on_line);
    lines
}

#[test]
fn lines_are_split_across_reads() {
    let cases: &[(&[&[u8]], &[&str])] = &[
        (&[b"a\nb\n"], &["a", "b"]),
        (&[b"a", b"b\nc", b"\n"], &["ab", "c"]),
        (&[b"last"], &["last"]),
        (&[b"\n\n"], &["", ""]),
        (&[b"crlf\r\n", b"lone\rcr\n", b"end\r"], &["crlf", "lone\rcr", "end\r"]),
        (&[b"bad \xff\n"], &["bad \u{FFFD}"]),
        (&[b"\xc3", b"\xa9\n"], &["é"]),
        // One bad byte in a read spoils only its own line.
        (&[b"ok\nbad \xff\nfine \xc3", b"\xa9\n"], &["ok", "bad \u{FFFD}", "fine é"]),
    ];
    for &(reads, expected) in cases {
        assert_eq!(split(reads), expected, "reads: {reads:?}");
    }
}

#[test]
fn long_lines_arrive_in_bounded_pieces() {
    let long = vec![b'x'; MAX_LINE * 2 + 10];
    let mut reads: Vec<&[u8]> = long.chunks(4096).collect();
    reads.push(b"\nshort\n");
    let lines = split(&reads);
    let lengths: Vec<usize> = lines.iter().map(String::len).collect();
    assert_eq!(lengths, [MAX_LINE, MAX_LINE, 10, 5]);
}

#[test]
fn pieces_never_split_a_character() {
    // 'é' is two bytes; an odd prefix puts one of them across the 64 KiB boundary.
    let mut text = b"x".to_vec();
    while text.len() < MAX_LINE + 10 {
        text.extend_from_slice("é".as_bytes());
    }
    let reads: Vec<&[u8]> = text.chunks(1000).collect();
    let lines = split(&reads);
    assert!(lines.iter().all(|line| !line.contains('\u{FFFD}')), "a character was split");
    assert_eq!(lines[0].len(), MAX_LINE - 1);
    assert_eq!(lines.concat().as_bytes(), text);
}

#[test]
fn chunk_end_backs_off_incomplete_sequences() {
    let cases: &[(&[u8], usize)] = &[
        (b"abc", 3),
        ("aé".as_bytes(), 3),
        (b"ab\xc3", 2),
        (b"a\xe2\x82", 1),
        ("a€".as_bytes(), 4),
        (b"a\xf0\x9f\x98", 1),
        (b"\x80\x80\x80\x80", 4),
    ];
    for &(bytes, expected) in cases {
        assert_eq!(chunk_end(bytes), expected, "bytes: {bytes:?}");
    }
}

#[test]
fn programs_are_found_on_the_given_path() {
    let path = std::env::var_os("PATH");
    assert!(on_path("sh", path.as_deref()));
    assert!(on_path("/bin/sh", None));
    assert!(!on_path("sh", Some(OsStr::new("/nonexistent"))));
    assert!(!on_path("sh", None));
    assert!(!on_path("ferry-no-such-program", path.as_deref()));
    // A directory is not a program.
    assert!(!on_path("/bin", None));
}

#[test]
fn the_step_future_can_move_between_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let spec = super::ProcessSpec {
        program: "true".into(),
        args: Vec::new(),
        working_dir: std::env::temp_dir(),
        env: Vec::new(),
        timeout: None,
        kill_grace: std::time::Duration::ZERO,
        keep_background: false,
        confinement: None,
    };
    let (_cancel, mut cancelled) = tokio::sync::watch::channel(false);
    let mut on_line = |_: Stream, _: &str| {};
    let future = super::run_process(&spec, &mut cancelled, &mut on_line, None);
    assert_send(&future);
}
