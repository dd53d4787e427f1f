//! Positions in a source text: byte offsets plus the 1-based line and column people read.

use serde::Serialize;

/// A position in a source text. `line` and `col` are 1-based; `col` counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub offset: usize,
    pub line: usize,
    pub col: usize,
}

/// A half-open range `[start, end)` of a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Pos {
    /// The position of byte `offset` in `src`; offsets past the end clamp to the end and
    /// offsets inside a UTF-8 sequence count as the character they belong to.
    pub fn at(src: &str, offset: usize) -> Pos {
        let offset = offset.min(src.len());
        let before = &src.as_bytes()[..offset];
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        Pos { offset, line, col }
    }
}

impl Span {
    /// The span of bytes `start..end` of `src`.
    pub fn of(src: &str, start: usize, end: usize) -> Span {
        Span { start: Pos::at(src, start), end: Pos::at(src, end.max(start)) }
    }

    /// A sub-span `start..end` given as byte offsets relative to this span's start, for text
    /// that maps one-to-one onto the source (a plain scalar, or the inside of `${{ }}` in one).
    pub fn slice(&self, src: &str, start: usize, end: usize) -> Span {
        Span::of(src, self.start.offset + start, self.start.offset + end)
    }
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let src = "on: push\njobs:\n  é: x\n";
        assert_eq!(Pos::at(src, 0), Pos { offset: 0, line: 1, col: 1 });
        assert_eq!(Pos::at(src, 9), Pos { offset: 9, line: 2, col: 1 });
        // "  é: x": the colon after the two-byte é is the 4th character.
        assert_eq!(Pos::at(src, 18), Pos { offset: 18, line: 3, col: 4 });
        assert_eq!(Pos::at(src, 1000).offset, src.len());
    }
}
