//! Splits expression text into tokens, the way GitHub's lexer does: a word runs until a
//! boundary character, `+`, `-` and a leading `.` start numbers, and keywords are only
//! keywords when they do not follow a `.`.

use std::ops::Range;

use super::ExprError;
use super::value::parse_number;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Bang,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Null,
    True,
    False,
    Number(f64),
    Str(String),
    Ident(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) range: Range<usize>,
}

/// Characters that end a word or a number.
fn is_boundary(c: char) -> bool {
    matches!(c, '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|') || c.is_whitespace()
}

fn is_identifier(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let mut tokens: Vec<Token> = Vec::new();
    let bytes = src.as_bytes();
    let mut idx = 0;
    while let Some(c) = src[idx..].chars().next() {
        let start = idx;
        let next = bytes.get(idx + 1).copied();
        let simple = |tok, len: usize| (tok, start + len);
        let previous = tokens.last().map(|token| &token.tok);
        let (tok, end) = match c {
            '(' => simple(Tok::LParen, 1),
            ')' => simple(Tok::RParen, 1),
            '[' => simple(Tok::LBracket, 1),
            ']' => simple(Tok::RBracket, 1),
            ',' => simple(Tok::Comma, 1),
            '*' => simple(Tok::Star, 1),
            '.' if matches!(previous, Some(Tok::Ident(_) | Tok::RBracket | Tok::RParen | Tok::Star)) => {
                simple(Tok::Dot, 1)
            }
            '.' if matches!(previous, Some(Tok::Str(_) | Tok::Number(_) | Tok::True | Tok::False | Tok::Null))
                && src[start + 1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '*') =>
            {
                return Err(ExprError {
                    message: "a literal value has no properties; only contexts, function calls and \
                              parenthesised expressions can be followed by `.`"
                        .to_owned(),
                    range: start..word_end(src, start, false),
                });
            }
            '!' if next == Some(b'=') => simple(Tok::Ne, 2),
            '!' => simple(Tok::Bang, 1),
            '=' if next == Some(b'=') => simple(Tok::EqEq, 2),
            '<' if next == Some(b'=') => simple(Tok::Le, 2),
            '<' => simple(Tok::Lt, 1),
            '>' if next == Some(b'=') => simple(Tok::Ge, 2),
            '>' => simple(Tok::Gt, 1),
            '&' if next == Some(b'&') => simple(Tok::And, 2),
            '|' if next == Some(b'|') => simple(Tok::Or, 2),
            '=' | '&' | '|' => {
                let (op, fix) = match c {
                    '=' => ("=", "`==` to compare values"),
                    '&' => ("&", "`&&` for a logical and"),
                    _ => ("|", "`||` for a logical or"),
                };
                return Err(ExprError {
                    message: format!("`{op}` is not an operator; use {fix}"),
                    range: start..start + 1,
                });
            }
            '\'' => lex_string(src, start)?,
            '"' => {
                return Err(ExprError {
                    message: "strings are written in single quotes: use 'text' instead of \"text\"".to_owned(),
                    range: start..start + 1,
                });
            }
            c if c.is_whitespace() => {
                idx += c.len_utf8();
                continue;
            }
            '.' | '+' | '-' | '0'..='9' => lex_number(src, start)?,
            _ => lex_word(src, start, previous)?,
        };
        tokens.push(Token { tok, range: start..end });
        idx = end;
    }
    Ok(tokens)
}

/// The end of the word starting at `start`: the next boundary character (or `.` too when
/// `dots` is false).
fn word_end(src: &str, start: usize, dots: bool) -> usize {
    src[start..]
        .char_indices()
        .skip(1)
        .find(|&(_, c)| is_boundary(c) && !(dots && c == '.'))
        .map_or(src.len(), |(offset, _)| start + offset)
}

fn lex_number(src: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let end = word_end(src, start, true);
    let lexeme = &src[start..end];
    let value = parse_number(lexeme);
    if value.is_nan() || lexeme.trim() != lexeme {
        return Err(ExprError {
            message: format!(
                "`{lexeme}` is not a number; write numbers like 42, -9.2, 2.99e-2 or 0xff, or quote text as '{lexeme}'"
            ),
            range: start..end,
        });
    }
    Ok((Tok::Number(value), end))
}

fn lex_word(src: &str, start: usize, previous: Option<&Tok>) -> Result<(Tok, usize), ExprError> {
    let end = word_end(src, start, false);
    let word = &src[start..end];
    if previous != Some(&Tok::Dot) {
        let keyword = match word {
            "true" => Some(Tok::True),
            "false" => Some(Tok::False),
            "null" => Some(Tok::Null),
            "NaN" => Some(Tok::Number(f64::NAN)),
            "Infinity" => Some(Tok::Number(f64::INFINITY)),
            _ => None,
        };
        if let Some(tok) = keyword {
            return Ok((tok, end));
        }
    }
    if !is_identifier(word) {
        return Err(ExprError {
            message: format!(
                "unexpected `{word}`; names start with a letter or `_` and hold only letters, digits, `_` and `-`"
            ),
            range: start..end,
        });
    }
    Ok((Tok::Ident(word.to_owned()), end))
}

/// A string literal: `'` … `'`, with `''` standing for one quote.
fn lex_string(src: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let mut value = String::new();
    let mut rest = &src[start + 1..];
    loop {
        let Some(quote) = rest.find('\'') else {
            return Err(ExprError {
                message: "this string is never closed; add a `'` at its end (write `''` for a quote inside it)"
                    .to_owned(),
                range: start..src.len(),
            });
        };
        value.push_str(&rest[..quote]);
        if rest[quote + 1..].starts_with('\'') {
            value.push('\'');
            rest = &rest[quote + 2..];
        } else {
            let end = src.len() - rest.len() + quote + 1;
            return Ok((Tok::Str(value), end));
        }
    }
}
