//! Reading replicas' output files and masking secrets.

use std::io::Write as _;

use super::*;

#[test]
fn lines_come_whole_from_where_the_last_read_stopped() {
    let temp = tempfile::tempdir().expect("tempdir");
    let path = temp.path().join("r.out");
    let mut tailer = Tailer::new(path.clone(), 0);
    assert!(tailer.read_lines().is_empty(), "a missing file has no lines");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("open");
    file.write_all(b"one\r\ntw").expect("write_all");
    assert_eq!(tailer.read_lines(), ["one"]);
    file.write_all(b"o\nthree\n").expect("write_all");
    assert_eq!(tailer.read_lines(), ["two", "three"]);
    assert_eq!(tailer.offset, 15);
    // A new tailer from the kept offset reads only what came after.
    file.write_all(b"four\n").expect("write_all");
    assert_eq!(Tailer::new(path, 15).read_lines(), ["four"]);
}

#[test]
fn a_long_line_is_cut_at_the_limit() {
    let temp = tempfile::tempdir().expect("tempdir");
    let path = temp.path().join("r.out");
    let mut text = "x".repeat(MAX_LINE + 10);
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    let lines = Tailer::new(path, 0).read_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), MAX_LINE);
    assert_eq!(lines[1].len(), 10);
}

#[test]
fn secrets_are_masked() {
    let secrets = vec!["hunter2-long".to_owned(), "hunter2".to_owned()];
    assert_eq!(mask("key=hunter2-long and hunter2", &secrets), "key=*** and ***");
    assert_eq!(mask("nothing here", &secrets), "nothing here");
}
