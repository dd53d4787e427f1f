//! Tests for mapping expression byte ranges onto the YAML source.

use super::*;
use crate::yaml;

/// The source text a sub-range of the value of key `key` maps to.
fn mapped(src: &str, range: Range<usize>) -> String {
    let (tree, _) = yaml::parse(src);
    let tree = tree.expect("a tree");
    let node = &tree.as_map().expect("a map")[0].value;
    let span = sub_span(src, node, range);
    src[span.start.offset..span.end.offset].to_owned()
}

#[test]
fn ranges_map_into_plain_and_quoted_scalars() {
    assert_eq!(mapped("a: x ${{ foo.bar }}\n", 6..9), "foo");
    assert_eq!(mapped("a: 'x ${{ foo.bar }}'\n", 6..9), "foo");
    assert_eq!(mapped("a: \"x ${{ foo.bar }}\"\n", 6..9), "foo");
    assert_eq!(mapped("a: é ${{ foo.bar }}\n", 7..10), "foo");
}

#[test]
fn scalars_that_are_not_verbatim_map_to_the_whole_scalar() {
    assert_eq!(mapped("a: 'it''s ${{ foo }}'\n", 14..17), "'it''s ${{ foo }}'");
    assert_eq!(mapped("a: \"\\t${{ foo }}\"\n", 6..9), "\"\\t${{ foo }}\"");
    assert_eq!(mapped("a: |\n  ${{ foo }}\n", 4..7), "${{ foo }}\n");
    assert_eq!(mapped("a: x\n  ${{ foo }}\n", 6..9), "x\n  ${{ foo }}");
}
