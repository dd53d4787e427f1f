//! The name rules: what each accepts and refuses, at its edges.

use super::{is_digest, is_key, is_name, is_text};

#[test]
fn a_name_is_1_to_100_letters_digits_dots_underscores_and_dashes() {
    for name in ["web", "a", "my-app_2.0", &"x".repeat(100)] {
        assert!(is_name(name), "{name:?}");
    }
    for name in ["", "a b", "a/b", "é", &"x".repeat(101), " web"] {
        assert!(!is_name(name), "{name:?}");
    }
}

#[test]
fn a_key_is_letters_digits_and_underscores_not_starting_with_a_digit() {
    for key in ["A", "_", "DEPLOY_KEY", "a1", &"K".repeat(200)] {
        assert!(is_key(key), "{key:?}");
    }
    for key in ["", "1A", "A-B", "A B", &"K".repeat(201)] {
        assert!(!is_key(key), "{key:?}");
    }
}

#[test]
fn text_is_anything_but_ascii_blanks() {
    for text in ["ci bot", "x", " x ", "\u{a0}", "日本"] {
        assert!(is_text(text), "{text:?}");
    }
    for text in ["", " ", "\t\n\r", "\u{b}\u{c}"] {
        assert!(!is_text(text), "{text:?}");
    }
}

#[test]
fn a_digest_is_64_lowercase_hex_digits() {
    assert!(is_digest(&"0a".repeat(32)));
    for digest in ["", "0", &"0A".repeat(32), &"0".repeat(63), &"0".repeat(65)] {
        assert!(!is_digest(digest), "{digest:?}");
    }
}
