//! Masking: the output a reader sees for given secrets and lines.

use super::Masker;

fn masker(values: &[&str]) -> Masker {
    let mut masker = Masker::new();
    for value in values {
        masker.add(value);
    }
    masker
}

#[test]
fn masks_every_occurrence() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&[], "nothing to hide", "nothing to hide"),
        (&["s3cret"], "no match here", "no match here"),
        (&["s3cret"], "s3cret", "***"),
        (&["s3cret"], "a s3cret and s3crets", "a *** and ***s"),
        (&["s3cret"], "s3crets3cret", "***"),
        // A secret containing another is masked whole, whichever was added first.
        (&["pass", "password123"], "x password123 pass", "x *** ***"),
        (&["password123", "pass"], "x password123 pass", "x *** ***"),
        // Overlapping secrets leave nothing of either visible.
        (&["abc", "cde"], "xabcdex", "x***x"),
        (&["cde", "abc"], "abcde", "***"),
        (&["b", "abcdefgh", "e"], "_abcdefgh_", "_***_"),
        (&["", "  ", "\n"], "  \n", "  \n"),
        (&["é"], "café crème", "caf*** crème"),
        (&["a.b*c"], "x a.b*c y", "x *** y"),
    ];
    for &(values, text, expected) in cases {
        assert_eq!(masker(values).mask(text), expected, "values: {values:?}, text: {text:?}");
    }
}

#[test]
fn multi_line_secrets_are_masked_line_by_line() {
    let key = "-----BEGIN KEY-----\r\nMIIEvQIBADANBg\nkqhkiG9w0BAQEF\n\n-----END KEY-----\n";
    let masker = masker(&[key]);
    let output = format!("before\n{key}after");
    let masked: Vec<String> = output.lines().map(|line| masker.mask(line).into_owned()).collect();
    assert_eq!(masked, ["before", "***", "***", "***", "", "***", "after"]);
    assert_eq!(masker.mask(&output), "before\n***after");
}

#[test]
fn nothing_registered_borrows() {
    let empty = Masker::new();
    assert!(empty.is_empty());
    assert!(matches!(empty.mask("text"), std::borrow::Cow::Borrowed("text")));
    let masker = masker(&["zz"]);
    assert!(!masker.is_empty());
    assert!(matches!(masker.mask("text"), std::borrow::Cow::Borrowed("text")));
}

#[test]
fn encoded_forms_are_masked() {
    // The base64 texts are `printf '%s' "${prefix}hunter2-s3cret; tail" | base64` for prefixes
    // of 0, 1 and 2 bytes: the secret sits at each alignment of a three-byte group.
    let hunter = masker(&["hunter2-s3cret"]);
    let cases = [
        ("aHVudGVyMi1zM2NyZXQ7IHRhaWw=", "***Q7IHRhaWw="),
        ("eGh1bnRlcjItczNjcmV0OyB0YWls", "eG***OyB0YWls"),
        ("eHlodW50ZXIyLXMzY3JldDsgdGFpbA==", "eHl***DsgdGFpbA=="),
        ("aHVudGVyMi1zM2NyZXQ=", "***Q="),
    ];
    for (text, expected) in cases {
        assert_eq!(hunter.mask(text), expected, "text: {text}");
    }

    let special = masker(&["p@ss \"word\"\n2"]);
    assert_eq!(special.mask(r#"{"password":"p@ss \"word\"\n2"}"#), r#"{"password":"***"}"#);
    assert_eq!(special.mask("https://host/?p=p%40ss%20%22word%22%0A2&x=1"), "https://host/?p=***&x=1");
}

#[test]
fn short_values_have_no_encoded_forms() {
    // "abc" in base64 is "YWJj"; hiding every "YWJj" would be noise, and it is too short to matter.
    let masker = masker(&["abc"]);
    assert_eq!(masker.mask("YWJj abc"), "YWJj ***");
}

#[test]
fn base64_inner_matches_full_encodings() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"Man", 0, "TWFu"),
        (b"Ma", 0, "TW"),
        (b"M", 0, "T"),
        (b"", 0, ""),
        (b"an", 1, "Fu"),
        (b"n", 2, "u"),
        (b"Many", 0, "TWFue"),
    ];
    for &(bytes, offset, expected) in cases {
        assert_eq!(super::base64_inner(bytes, offset), expected, "bytes: {bytes:?}, offset: {offset}");
    }
}

#[test]
fn an_unfinished_line_is_shown_up_to_where_a_value_could_begin() {
    let masker = masker(&["s3cr3t"]);
    // The longest value is `s3cr3t` in base64 (8 bytes): the last 7 bytes are held back.
    assert_eq!(masker.shown_of_unfinished("0123456789"), 3);
    // An occurrence crossing that point is held back whole, from where it starts.
    assert_eq!(masker.shown_of_unfinished("0123s3cr3t9"), 4);
    assert_eq!(masker.shown_of_unfinished("0123456789s3cr3t0123"), 10);
    assert_eq!(masker.shown_of_unfinished("abc"), 0);
    assert_eq!(Masker::new().shown_of_unfinished("anything"), 8);
    // Never inside a character: `é` is two bytes.
    assert_eq!(masker.shown_of_unfinished("ééééé"), 2);
}
