//! The contexts a job's expressions see (`github`, `env`, `steps`, …), and `hashFiles`.

use std::path::{Path, PathBuf};

use ferry_model::JobStatus;
use ferry_workflow::expr::{self, Value};

pub use ferry_workflow::expr::{EvalFailure, Evaluate};
use serde_json::Map;
use sha2::{Digest, Sha256};

/// Every context of one point in a job, plus what the status functions see.
#[derive(Debug, Clone)]
pub struct Contexts {
    pub values: Map<String, Value>,
    pub status: JobStatus,
    /// Where `hashFiles` looks.
    pub workspace: PathBuf,
}

impl expr::Context for Contexts {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    fn job_status(&self) -> JobStatus {
        self.status
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, expr::HashFilesError> {
        hash_files(&self.workspace, patterns).map_err(|error| expr::HashFilesError(error.to_string()))
    }
}

impl Contexts {
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    /// The object context `name`, created empty when missing.
    pub fn object_mut(&mut self, name: &str) -> &mut Map<String, Value> {
        let value = self.values.entry(name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !value.is_object() {
            *value = Value::Object(Map::new());
        }
        match value {
            Value::Object(map) => map,
            _ => unreachable!("replaced by an object just above"),
        }
    }
}

/// A file `hashFiles` had to read could not be read.
#[derive(Debug, thiserror::Error)]
#[error("hashFiles: reading {path}: {source}")]
pub struct HashFilesReadError {
    /// The file or folder, relative to the workspace where it is inside it.
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// GitHub's `hashFiles`: the SHA-256 of the SHA-256 digests of every matching regular file
/// under `workspace`, in path order; the empty string when nothing matches.
///
/// # Errors
/// The workspace or a matching file could not be read.
pub fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, HashFilesReadError> {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for pattern in patterns.iter().flat_map(|pattern| pattern.lines()) {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            continue;
        }
        let (list, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (&mut exclude, rest),
            None => (&mut include, pattern),
        };
        let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
        let pattern = match Path::new(pattern).strip_prefix(workspace) {
            Ok(relative) => relative.to_string_lossy().into_owned(),
            Err(_) => pattern.to_owned(),
        };
        list.push(pattern);
    }
    let mut files = Vec::new();
    walk(workspace, workspace, &mut files)
        .map_err(|source| HashFilesReadError { path: workspace.display().to_string(), source })?;
    files.sort();
    let mut outer = Sha256::new();
    let mut n_matched = 0;
    for relative in &files {
        let matched = include.iter().any(|pattern| glob_match(pattern, relative))
            && !exclude.iter().any(|pattern| glob_match(pattern, relative));
        if !matched {
            continue;
        }
        let bytes = std::fs::read(workspace.join(relative))
            .map_err(|source| HashFilesReadError { path: relative.clone(), source })?;
        outer.update(Sha256::digest(&bytes));
        n_matched += 1;
    }
    if n_matched == 0 {
        return Ok(String::new());
    }
    Ok(hex::encode(outer.finalize()))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            walk(root, &path, out)?;
        } else if file_type.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Glob matching as `@actions/glob` does for `hashFiles`: `*` and `?` within a path segment,
/// `**` across segments, `[...]` character classes.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.first() {
            None => text.is_empty(),
            Some(b'*') if pattern.get(1) == Some(&b'*') => {
                let rest = &pattern[2..];
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=text.len()).any(|skip| {
                    (skip == 0 || text[skip - 1] == b'/' || rest.is_empty()) && matches(rest, &text[skip..])
                })
            }
            Some(b'*') => {
                let rest = &pattern[1..];
                (0..=text.len())
                    .take_while(|&skip| skip == 0 || text[skip - 1] != b'/')
                    .any(|skip| matches(rest, &text[skip..]))
            }
            Some(b'?') => text.first().is_some_and(|&c| c != b'/') && matches(&pattern[1..], &text[1..]),
            Some(b'[') => {
                let Some(close) = pattern.iter().skip(1).position(|&c| c == b']').map(|idx| idx + 1) else {
                    return text.first() == Some(&b'[') && matches(&pattern[1..], &text[1..]);
                };
                let Some(&c) = text.first() else { return false };
                let class = &pattern[1..close];
                let (negated, class) = match class.first() {
                    Some(b'!' | b'^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut found = false;
                let mut idx = 0;
                while idx < class.len() {
                    if idx + 2 < class.len() && class[idx + 1] == b'-' {
                        found |= class[idx] <= c && c <= class[idx + 2];
                        idx += 3;
                    } else {
                        found |= class[idx] == c;
                        idx += 1;
                    }
                }
                found != negated && c != b'/' && matches(&pattern[close + 1..], &text[1..])
            }
            Some(&p) => text.first() == Some(&p) && matches(&pattern[1..], &text[1..]),
        }
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_actions_glob() {
        let cases = [
            ("**/Cargo.lock", "Cargo.lock", true),
            ("**/Cargo.lock", "crates/a/Cargo.lock", true),
            ("*.lock", "crates/a/Cargo.lock", false),
            ("*.lock", "Cargo.lock", true),
            ("src/**", "src/a/b.rs", true),
            ("src/*.rs", "src/a/b.rs", false),
            ("src/?.rs", "src/a.rs", true),
            ("src/[ab].rs", "src/b.rs", true),
            ("src/[!ab].rs", "src/b.rs", false),
            ("package-lock.json", "package-lock.json", true),
            ("**/package-lock.json", "web/package-lock.json", true),
        ];
        for (pattern, path, want) in cases {
            assert_eq!(glob_match(pattern, path), want, "{pattern} ~ {path}");
        }
    }

    #[test]
    fn hash_files_hashes_matching_files_in_path_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("a")).expect("mkdir");
        std::fs::write(dir.path().join("a/x.lock"), "one").expect("write");
        std::fs::write(dir.path().join("y.lock"), "two").expect("write");
        let all = hash_files(dir.path(), &["**/*.lock".to_owned()]).expect("hash");
        let mut outer = Sha256::new();
        outer.update(Sha256::digest(b"one"));
        outer.update(Sha256::digest(b"two"));
        let want = hex::encode(outer.finalize());
        assert_eq!(all, want);
        let excluded = hash_files(dir.path(), &["**/*.lock".to_owned(), "!a/**".to_owned()]).expect("hash");
        assert_ne!(excluded, all);
        assert_eq!(hash_files(dir.path(), &["*.nothing".to_owned()]).expect("hash"), "");
    }
}
