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
