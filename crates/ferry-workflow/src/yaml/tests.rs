//! Tests for the YAML tree: spans, styles, duplicates and syntax errors.

use super::*;

fn raw<'s>(src: &'s str, node: &Node) -> &'s str {
    &src[node.span.start.offset..node.span.end.offset]
}

#[test]
fn scalar_spans_cover_the_written_text() {
    let src = "a: plain text\nb: 'single'\nc: \"dq\"\nd: |\n  block\ne: é ${{ x }}\n";
    let (tree, diagnostics) = parse(src);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let tree = tree.expect("a tree");
    let entries = tree.as_map().expect("a map");
    let raws: Vec<&str> = entries.iter().map(|entry| raw(src, &entry.value)).collect();
    assert_eq!(raws, ["plain text", "'single'", "\"dq\"", "block\n", "é ${{ x }}"]);
    assert_eq!(entries[1].value.scalar().map(|s| s.style), Some(Style::SingleQuoted));
    assert_eq!(entries[4].value.span.start.col, 4);
}

#[test]
fn duplicate_keys_are_reported_and_kept() {
    let (tree, diagnostics) = parse("a: 1\nb: 2\na: 3\n");
    assert_eq!(tree.and_then(|t| t.as_map().map(<[Entry]>::len)), Some(3));
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, "duplicate-key");
    assert_eq!(diagnostics[0].span.start.line, 3);
}

#[test]
fn aliases_copy_the_anchored_node() {
    let (tree, diagnostics) = parse("a: &x [1, 2]\nb: *x\n");
    assert!(diagnostics.is_empty());
    let tree = tree.expect("a tree");
    assert_eq!(tree.to_json(), serde_json::json!({"a": [1, 2], "b": [1, 2]}));
}

#[test]
fn syntax_errors_have_a_position() {
    let (tree, diagnostics) = parse("a: [1, 2\nb: 3\n");
    assert!(tree.is_none());
    assert_eq!(diagnostics[0].code, "yaml-syntax");
    assert!(diagnostics[0].span.start.line >= 1);
}

#[test]
fn core_schema_scalars_resolve() {
    let (tree, _) = parse("[1, -2.5, .inf, 0x1f, true, null, ~, '1', 1e3, 1_000, 'x']");
    let json = tree.expect("a tree").to_json();
    assert_eq!(json, serde_json::json!([1, -2.5, ".inf", 31.0, true, null, null, "1", 1000.0, "1_000", "x"]));
}
