//! Splits template text into literal text and `${{ }}` expressions.

use std::ops::Range;

use super::{Expr, ExprError, parse};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Literal(String),
    /// An expression and the byte offset of its inner text in the template.
    Expr {
        expr: Expr,
        offset: usize,
    },
}

/// The parts of `text`. An expression closes at the first `}}` outside a string literal.
pub(crate) fn split(text: &str) -> Result<Vec<Part>, ExprError> {
    let mut parts = Vec::new();
    let mut pos = 0;
    while let Some(found) = text[pos..].find("${{") {
        let open = pos + found;
        if open > pos {
            parts.push(Part::Literal(text[pos..open].to_owned()));
        }
        let inner = open + 3;
        let close = closing_braces(text, inner).map_err(|open_string| match open_string {
            Some(quote) if text[quote..].contains("}}") => ExprError {
                message: "this string is never closed, so it swallows the `}}` meant to end the expression; \
                          add a `'` at its end (write `''` for a quote inside it)"
                    .to_owned(),
                range: quote..quote + 1,
            },
            _ => ExprError {
                message: "this `${{` is never closed; add `}}` after the expression".to_owned(),
                range: open..inner,
            },
        })?;
        let expr = parse(&text[inner..close]).map_err(|error| shift(error, inner))?;
        parts.push(Part::Expr { expr, offset: inner });
        pos = close + 2;
    }
    if pos < text.len() {
        parts.push(Part::Literal(text[pos..].to_owned()));
    }
    Ok(parts)
}

/// The byte offset of the `}}` that closes an expression starting at `start`; when there is
/// none, the offset of the string literal left open at the end, if any.
fn closing_braces(text: &str, start: usize) -> Result<usize, Option<usize>> {
    let bytes = text.as_bytes();
    let mut open_string = None;
    let mut idx = start;
    while idx < bytes.len() {
        match bytes[idx] {
            // `''` inside a string closes and reopens it, so it needs no special case.
            b'\'' => open_string = if open_string.is_some() { None } else { Some(idx) },
            b'}' if open_string.is_none() && bytes.get(idx + 1) == Some(&b'}') => return Ok(idx),
            _ => {}
        }
        idx += 1;
    }
    Err(open_string)
}

/// `error` with its range moved by `offset` bytes.
pub(crate) fn shift(error: ExprError, offset: usize) -> ExprError {
    let Range { start, end } = error.range;
    ExprError { message: error.message, range: start + offset..end + offset }
}
