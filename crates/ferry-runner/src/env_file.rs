//! The files a step writes to pass values on: `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_STATE`
//! (`name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks) and `$GITHUB_PATH` (one
//! directory a line).
//!
//! Parsing follows GitHub's runner on Linux: lines end at `\n` only (a `\r` stays part of the
//! line), empty lines are skipped, the first `=` or `<<` decides the form, and a heredoc value is
//! everything between its two lines without the last newline. Error messages are GitHub's, with
//! the line number added.

/// Why an env file could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct EnvFileError {
    /// 1-based line of the offending entry (for a heredoc, the `name<<DELIMITER` line).
    pub line: usize,
    pub kind: EnvFileErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileErrorKind {
    #[error("Invalid format '{0}'. Name must not be empty")]
    EmptyName(String),
    #[error("Invalid format '{0}'. Name must not be empty and delimiter must not be empty")]
    EmptyNameOrDelimiter(String),
    #[error("Invalid value. Matching delimiter not found '{0}'")]
    MissingDelimiter(String),
    #[error("Invalid format '{0}'")]
    InvalidFormat(String),
}

/// The `name`/`value` pairs of an env file in file order (a later pair for the same name wins
/// when applied), and the error that stopped parsing, if any.
///
/// On an error the pairs before it are still returned: GitHub's runner has applied them by the
/// time it fails the step.
#[must_use]
pub fn parse_env_file(text: &str) -> (Vec<(String, String)>, Option<EnvFileError>) {
    let mut entries = Vec::new();
    let mut lines = Lines { text, pos: 0, number: 0 };
    while let Some(line) = lines.next_line() {
        if line.is_empty() {
            continue;
        }
        let line_number = lines.number;
        let error = |kind| Some(EnvFileError { line: line_number, kind });
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(equals), heredoc) if heredoc.is_none_or(|heredoc| equals < heredoc) => {
                let (name, value) = (&line[..equals], &line[equals + 1..]);
                if name.is_empty() {
                    return (entries, error(EnvFileErrorKind::EmptyName(line.to_owned())));
                }
                entries.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(heredoc)) => {
                let (name, delimiter) = (&line[..heredoc], &line[heredoc + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return (entries, error(EnvFileErrorKind::EmptyNameOrDelimiter(line.to_owned())));
                }
                let start = lines.pos;
                let mut end = start;
                loop {
                    match lines.next_line() {
                        Some(value_line) if value_line == delimiter => break,
                        Some(_) => end = lines.pos.saturating_sub(1).max(start),
                        None => return (entries, error(EnvFileErrorKind::MissingDelimiter(delimiter.to_owned()))),
                    }
                }
                // `end` sits on the newline ending the value's last line: drop that newline.
                entries.push((name.to_owned(), text[start..end].to_owned()));
            }
            _ => return (entries, error(EnvFileErrorKind::InvalidFormat(line.to_owned()))),
        }
    }
    (entries, None)
}

/// The directories of a `$GITHUB_PATH` file, in file order, blank lines skipped and a line's
/// `\r\n` read as its end. Each is prepended to `PATH` for later steps in turn, so the last one
/// comes first.
#[must_use]
pub fn parse_path_file(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lines ending at `\n`, remembering where the next one starts and which number it was.
struct Lines<'a> {
    text: &'a str,
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<&'a str> {
        let rest = self.text.get(self.pos..).filter(|rest| !rest.is_empty())?;
        self.number += 1;
        let len = memchr::memchr(b'\n', rest.as_bytes());
        self.pos += len.map_or(rest.len(), |len| len + 1);
        Some(&rest[..len.unwrap_or(rest.len())])
    }
}

#[cfg(test)]
mod tests;
