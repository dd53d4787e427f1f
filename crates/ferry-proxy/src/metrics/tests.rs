//! Unit tests of the exposition's quoting.

use super::*;

#[test]
fn label_values_are_escaped_as_the_exposition_format_says() {
    assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(escape("line\nbreak"), "line\\nbreak");
    let key = UnitKey { project: "p".into(), service: "s".into(), environment: "e".into() };
    assert_eq!(unit_labels(&key), r#"project="p",service="s",environment="e""#);
}
