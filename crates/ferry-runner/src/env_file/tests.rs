//! Env files as steps write them: plain pairs, heredocs, and the errors GitHub reports.

use super::{EnvFileError, EnvFileErrorKind, parse_env_file, parse_path_file};

fn pairs(text: &str) -> Vec<(String, String)> {
    let (entries, error) = parse_env_file(text);
    assert_eq!(error, None, "text: {text:?}");
    entries
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|&(name, value)| (name.to_owned(), value.to_owned())).collect()
}

#[test]
fn valid_files() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("", &[]),
        ("\n\n", &[]),
        ("A=1", &[("A", "1")]),
        ("A=1\nB=two words\n", &[("A", "1"), ("B", "two words")]),
        ("A=\n", &[("A", "")]),
        ("A=x=y<<z\n", &[("A", "x=y<<z")]),
        ("A=1\r\n", &[("A", "1\r")]),
        ("A=1\nA=2\n", &[("A", "1"), ("A", "2")]),
        ("M<<EOF\nline 1\nline 2\nEOF\n", &[("M", "line 1\nline 2")]),
        ("M<<EOF\nEOF\n", &[("M", "")]),
        ("M<<EOF\n\nEOF\n", &[("M", "")]),
        ("M<<EOF\n\n\nEOF", &[("M", "\n")]),
        ("M<<EOF\nx\n\nEOF\nN=1", &[("M", "x\n"), ("N", "1")]),
        ("M<<EOF\nA=1\n  EOF\nEOF\n", &[("M", "A=1\n  EOF")]),
        ("M<<ghadelimiter_5e6f\nvalue\nghadelimiter_5e6f\n", &[("M", "value")]),
        ("M<<a=b\nv\na=b\n", &[("M", "v")]),
    ];
    for &(text, expected) in cases {
        assert_eq!(pairs(text), owned(expected), "text: {text:?}");
    }
}

#[test]
fn invalid_files_keep_earlier_pairs() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize, EnvFileErrorKind);
    let cases: &[Case<'_>] = &[
        ("=1", &[], 1, EnvFileErrorKind::EmptyName("=1".into())),
        ("A=1\n\nNOVALUE\nB=2", &[("A", "1")], 3, EnvFileErrorKind::InvalidFormat("NOVALUE".into())),
        ("<<EOF\nx\nEOF", &[], 1, EnvFileErrorKind::EmptyNameOrDelimiter("<<EOF".into())),
        ("M<<\nx\n", &[], 1, EnvFileErrorKind::EmptyNameOrDelimiter("M<<".into())),
        ("A=1\nM<<EOF\nx\nEOF \n", &[("A", "1")], 2, EnvFileErrorKind::MissingDelimiter("EOF".into())),
    ];
    for (text, expected, line, kind) in cases {
        let (entries, error) = parse_env_file(text);
        assert_eq!(entries, owned(expected), "text: {text:?}");
        assert_eq!(error, Some(EnvFileError { line: *line, kind: kind.clone() }), "text: {text:?}");
    }
    let (_, error) = parse_env_file("A=1\nM<<EOF\nx\n");
    assert_eq!(
        error.map(|error| error.to_string()).as_deref(),
        Some("line 2: Invalid value. Matching delimiter not found 'EOF'")
    );
}

#[test]
fn path_file_lists_directories() {
    assert_eq!(parse_path_file("/opt/a\n\n/opt/b c\n/opt/d"), ["/opt/a", "/opt/b c", "/opt/d"]);
    assert!(parse_path_file("").is_empty());
}
