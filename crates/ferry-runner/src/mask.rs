//! Masking secrets in step output: every occurrence of a registered value becomes `***`.
//!
//! All values are found in one pass of an Aho-Corasick automaton; overlapping and nested
//! occurrences are merged into one `***`, so a secret that contains another, or two secrets that
//! overlap, never leave a piece visible. A multi-line value is also registered line by line,
//! because output reaches the masker one line at a time.
//!
//! Like GitHub's runner, the masker also hides common encodings of each value: base64 (at each
//! of the three alignments a value can have inside a longer base64 text, so `… | base64` does not
//! leak it), JSON string escaping and URI percent-encoding. An encoded form shorter than
//! [`MIN_ENCODED_LEN`] is skipped, as it would hide unrelated output.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

/// The text that replaces a masked value.
pub const MASK: &str = "***";

/// The values to hide in output: secrets known up front and values from `::add-mask::`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    values: Vec<String>,
    /// The length in bytes of the longest value (encoded forms included).
    longest: usize,
    /// `None` while there is nothing to mask, so the common case costs one branch per line.
    automaton: Option<AhoCorasick>,
}

impl Masker {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a value to hide. Empty values and lines that are only whitespace are ignored:
    /// masking them would hide everything or nothing useful. Each line of a multi-line value is
    /// registered too (without a trailing `\r`).
    pub fn add(&mut self, value: &str) {
        self.add_all([value]);
    }

    /// Registers each of `values` as [`Masker::add`] does, building the matcher once: a job's
    /// secrets are known together, and each build of it cost about 0.1 ms.
    pub fn add_all<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        let before = self.values.len();
        for value in values {
            self.insert(value);
            if value.contains('\n') {
                for line in value.split('\n') {
                    self.insert(line.strip_suffix('\r').unwrap_or(line));
                }
            }
        }
        if self.values.len() != before {
            self.rebuild();
        }
    }

    fn insert(&mut self, value: &str) {
        if value.trim().is_empty() {
            return;
        }
        let encoded = encoded_forms(value).into_iter().filter(|form| form.len() >= MIN_ENCODED_LEN && form != value);
        for form in std::iter::once(value.to_owned()).chain(encoded) {
            if !self.values.contains(&form) {
                self.values.push(form);
            }
        }
    }

    fn rebuild(&mut self) {
        self.longest = self.values.iter().map(String::len).max().unwrap_or(0);
        // Standard semantics report every (overlapping) occurrence, which `mask` merges.
        let automaton = AhoCorasick::builder().match_kind(MatchKind::Standard).build(&self.values);
        match automaton {
            Ok(automaton) => self.automaton = Some(automaton),
            Err(error) => {
                // Only a pattern set beyond aho-corasick's size limits gets here; keep the
                // previous automaton rather than masking nothing.
                tracing::error!(%error, n_values = self.values.len(), "cannot build the secret masker");
            }
        }
    }

    /// Whether a registered value occurs in `text`: when it does not, [`Masker::mask`] leaves
    /// each line of `text` as it is.
    #[must_use]
    pub fn is_found_in(&self, text: &str) -> bool {
        self.automaton.as_ref().is_some_and(|automaton| automaton.is_match(text))
    }

    /// Whether any value is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// `text` with every occurrence of a registered value replaced by [`MASK`]; occurrences that
    /// overlap or touch are replaced by a single mask. Borrows when nothing matched.
    #[must_use]
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(automaton) = &self.automaton else {
            return Cow::Borrowed(text);
        };
        let mut matches = automaton.find_overlapping_iter(text).peekable();
        if matches.peek().is_none() {
            return Cow::Borrowed(text);
        }
        // Overlapping matches arrive ordered by where they end, and a long one can reach back
        // over earlier ones: sort by start, then merge.
        let mut ranges: Vec<(usize, usize)> = matches.map(|found| (found.start(), found.end())).collect();
        ranges.sort_unstable();
        let mut masked = String::with_capacity(text.len());
        let mut copied = 0;
        let mut ranges = ranges.into_iter();
        let (mut start, mut end) = ranges.next().expect("peeked a match above");
        for (next_start, next_end) in ranges {
            if next_start <= end {
                end = end.max(next_end);
            } else {
                masked.push_str(&text[copied..start]);
                masked.push_str(MASK);
                copied = end;
                (start, end) = (next_start, next_end);
            }
        }
        masked.push_str(&text[copied..start]);
        masked.push_str(MASK);
        masked.push_str(&text[end..]);
        Cow::Owned(masked)
    }
}

impl Masker {
    /// How much of `text`, the start of a line whose rest is still to come, can be masked and
    /// shown now, so that a value the rest completes is still masked whole: the end of `text`
    /// where a value could begin and run on into the rest is held back, and so is any
    /// occurrence that crosses that point. Always at a character boundary.
    #[must_use]
    pub fn shown_of_unfinished(&self, text: &str) -> usize {
        let Some(automaton) = &self.automaton else {
            return text.len();
        };
        let mut cut = text.len().saturating_sub(self.longest.saturating_sub(1));
        let ranges: Vec<(usize, usize)> =
            automaton.find_overlapping_iter(text).map(|found| (found.start(), found.end())).collect();
        // Moving the cut back to where a crossing occurrence starts may make another one cross.
        while let Some(&(start, _)) = ranges.iter().find(|&&(start, end)| start < cut && end > cut) {
            cut = start;
        }
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        cut
    }
}

/// Encoded forms of a value shorter than this are not masked.
pub const MIN_ENCODED_LEN: usize = 8;

fn encoded_forms(value: &str) -> [String; 5] {
    let bytes = value.as_bytes();
    [base64_inner(bytes, 0), base64_inner(bytes, 1), base64_inner(bytes, 2), json_escape(value), uri_escape(bytes)]
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 characters that depend on `bytes` alone when `bytes` start `offset` (0 to 2) bytes
/// into a three-byte group of a longer text: the characters shared with what comes before or
/// after are left out, so the result appears in any base64 text that encodes `bytes` there.
fn base64_inner(bytes: &[u8], offset: usize) -> String {
    let padded: Vec<u8> = std::iter::repeat_n(0, offset).chain(bytes.iter().copied()).collect();
    let first = (offset * 8).div_ceil(6);
    let end = padded.len() * 8 / 6;
    (first..end)
        .map(|char_idx| {
            let bit = char_idx * 6;
            let high = u16::from(padded[bit / 8]);
            let low = u16::from(padded.get(bit / 8 + 1).copied().unwrap_or(0));
            let sextet = (((high << 8) | low) >> (10 - bit % 8)) & 0x3f;
            char::from(BASE64[usize::from(sextet)])
        })
        .collect()
}

/// The value as it appears inside a JSON string.
fn json_escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            '\u{8}' => escaped.push_str("\\b"),
            '\u{c}' => escaped.push_str("\\f"),
            ch if u32::from(ch) < 0x20 => escaped.push_str(&format!("\\u{:04x}", u32::from(ch))),
            ch => escaped.push(ch),
        }
    }
    escaped
}

/// The value percent-encoded as in a URI component (RFC 3986 unreserved characters kept).
fn uri_escape(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut escaped = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            escaped.push(char::from(byte));
        } else {
            escaped.extend(['%', char::from(HEX[usize::from(byte >> 4)]), char::from(HEX[usize::from(byte & 0xf)])]);
        }
    }
    escaped
}

#[cfg(test)]
mod tests;
