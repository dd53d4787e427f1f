//! Masking secrets in step output: every occurrence of a registered value becomes `***`.
//!
//! All values are found in one pass of an Aho-Corasick automaton; overlapping and nested
//! occurrences are merged into one `***`, so a secret that contains another, or two secrets that
//! overlap, never leave a piece visible. A multi-line value is also registered line by line,
//! because output reaches the masker one line at a time.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, MatchKind};

/// The text that replaces a masked value.
pub const MASK: &str = "***";

/// The values to hide in output: secrets known up front and values from `::add-mask::`.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    values: Vec<String>,
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
        let before = self.values.len();
        self.insert(value);
        if value.contains('\n') {
            for line in value.split('\n') {
                self.insert(line.strip_suffix('\r').unwrap_or(line));
            }
        }
        if self.values.len() != before {
            self.rebuild();
        }
    }

    fn insert(&mut self, value: &str) {
        if !value.trim().is_empty() && !self.values.iter().any(|known| known == value) {
            self.values.push(value.to_owned());
        }
    }

    fn rebuild(&mut self) {
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

#[cfg(test)]
mod tests;
