//! A replica's output: it writes to files in the agent's directory (so it outlives the
//! agent), which the agent reads from where it last stopped, cuts into lines (at most
//! [`MAX_LINE`] bytes each: a longer line is cut there and the rest comes as the next line),
//! masks (every secret value becomes `***`) and ships to the server.
//!
//! A file that grew past [`MAX_FILE`] is emptied once read to its end; the replica writes with
//! `O_APPEND`, so its next line lands at the start. What it writes between the last read and
//! the truncation is lost: a narrow window, the price of not holding a pipe the replica would
//! die on when the agent goes.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;

/// The longest line shipped, in bytes.
pub const MAX_LINE: usize = 8 * 1024;
/// The most read from one file per call.
const MAX_READ: u64 = 256 * 1024;
/// A file this long is emptied once read to its end.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// Reads one output file from an offset.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    pub offset: u64,
    /// The start of a line whose end has not come yet (at most [`MAX_LINE`] bytes).
    partial: Vec<u8>,
}

impl Tailer {
    #[must_use]
    pub fn new(path: PathBuf, offset: u64) -> Tailer {
        Tailer { path, offset, partial: Vec::new() }
    }

    /// The file it reads.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The whole lines written since the last call (a missing file has none).
    pub fn read_lines(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let Ok(mut file) = std::fs::OpenOptions::new().read(true).write(true).open(&self.path) else { return lines };
        let Ok(len) = file.metadata().map(|meta| meta.len()) else { return lines };
        if len < self.offset {
            // Emptied by someone else: start again at its start.
            self.offset = 0;
        }
        if len == self.offset {
            return lines;
        }
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err()
            || (&mut file).take(MAX_READ).read_to_end(&mut chunk).is_err()
        {
            return lines;
        }
        self.offset += chunk.len() as u64;
        for &byte in &chunk {
            if byte == b'\n' {
                lines.push(self.take_line());
            } else {
                self.partial.push(byte);
                if self.partial.len() >= MAX_LINE {
                    lines.push(self.take_line());
                }
            }
        }
        if self.offset >= MAX_FILE && self.offset == len && file.set_len(0).is_ok() {
            self.offset = 0;
        }
        lines
    }

    fn take_line(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if line.ends_with('\r') {
            line.pop();
        }
        line
    }
}

/// Replaces each secret value in a line with `***`.
#[must_use]
pub fn mask(line: &str, secrets: &[String]) -> String {
    let mut line = line.to_owned();
    for secret in secrets {
        if !secret.is_empty() && line.contains(secret.as_str()) {
            line = line.replace(secret.as_str(), "***");
        }
    }
    line
}

#[cfg(test)]
mod tests;
