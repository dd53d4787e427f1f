//! Actions Ferry does itself instead of downloading them: `actions/checkout` (the job's
//! workspace already holds the repository), `actions/upload-artifact` and
//! `actions/download-artifact` (files kept for the rest of the run), and `actions/cache` with
//! `cache/restore` and `cache/save` (a cache folder on this machine, saved after a successful
//! job as GitHub does). With a [`super::CacheRemote`], the remote decides what is restored
//! (the folder keeps copies of its entries), and a saved entry is stored there.

use std::path::{Path, PathBuf};

use ferry_model::Conclusion;
use ferry_workflow::expr::Value;
use serde_json::Map;
use sha2::{Digest, Sha256};

use super::contexts::{Contexts, glob_match};
use super::step::{StepResult, StepRunner};
use super::{CacheRemoteError, StoredArtifact};

/// An action Ferry runs natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Builtin {
    Checkout,
    UploadArtifact,
    DownloadArtifact,
    /// `actions/cache`: restore now, save after the job.
    Cache,
    CacheRestore,
    CacheSave,
}

/// The built-in action `reference` (`owner/repo[/path]@ref`) names, if any.
pub(super) fn builtin(reference: &str) -> Option<Builtin> {
    let name = reference.split('@').next()?.to_ascii_lowercase();
    Some(match name.as_str() {
        "actions/checkout" => Builtin::Checkout,
        "actions/upload-artifact" => Builtin::UploadArtifact,
        "actions/download-artifact" => Builtin::DownloadArtifact,
        "actions/cache" => Builtin::Cache,
        "actions/cache/restore" => Builtin::CacheRestore,
        "actions/cache/save" => Builtin::CacheSave,
        _ => return None,
    })
}

/// A cache entry to save when the job has succeeded.
#[derive(Debug, Clone)]
pub(super) struct PendingSave {
    pub key: String,
    pub paths: Vec<String>,
}

/// Runs `builtin` with its `with:` inputs (names lowercased).
pub(super) async fn run_builtin(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    builtin: Builtin,
    inputs: &Map<String, Value>,
    contexts: &Contexts,
) -> StepResult {
    let input = |name: &str| inputs.get(name).and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let res = match builtin {
        Builtin::Checkout => {
            let sha = contexts.values.get("github").and_then(|github| github.get("sha")).and_then(Value::as_str);
            runner.line(
                step_idx,
                &format!(
                    "The workspace already holds the repository at {}; nothing to check out.",
                    sha.unwrap_or("HEAD")
                ),
            );
            Ok(Map::new())
        }
        Builtin::UploadArtifact => upload(runner, step_idx, &input).map(|(outputs, stored)| {
            if let Some(stored) = stored {
                // The last upload of a name says how the server keeps it.
                match runner.artifacts.iter_mut().find(|known| known.name == stored.name) {
                    Some(known) => *known = stored,
                    None => runner.artifacts.push(stored),
                }
            }
            outputs
        }),
        Builtin::DownloadArtifact => download(runner, step_idx, &input),
        Builtin::Cache | Builtin::CacheRestore => {
            let restored = restore(runner, step_idx, &input).await;
            if builtin == Builtin::Cache
                && let Ok(outputs) = &restored
                && outputs.get("cache-hit").and_then(Value::as_str) != Some("true")
            {
                runner.pending_saves.push(PendingSave { key: input("key"), paths: lines(&input("path")) });
            }
            restored
        }
        Builtin::CacheSave => {
            let save = PendingSave { key: input("key"), paths: lines(&input("path")) };
            save_cache(runner, step_idx, &save).await.map(|()| Map::new())
        }
    };
    match res {
        Ok(outputs) => StepResult { outcome: Conclusion::Success, outputs },
        Err(error) => {
            runner.line(step_idx, &format!("error: {error}"));
            StepResult { outcome: Conclusion::Failure, outputs: Map::new() }
        }
    }
}

/// Why an action Ferry does itself failed its step.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuiltinError {
    #[error("artifact name `{name}` may not contain / \\ : < > | * ? \" characters")]
    ArtifactName { name: String },
    #[error(
        "invalid retention-days `{text}`: give a whole number of days from 1, or 0 for the server's \
         retention; no artifact is kept longer than the server's retention (90 days unless set otherwise)"
    )]
    RetentionDays { text: String },
    #[error("no files were found with the provided path: {path}")]
    NoFiles { path: String },
    #[error("an artifact named `{name}` already exists in this run; use another name or `overwrite: true`")]
    ArtifactExists { name: String },
    #[error("artifact `{name}` was not found in this run; upload it in an earlier job with actions/upload-artifact")]
    ArtifactMissing { name: String },
    #[error("actions/cache needs a `key`")]
    NoCacheKey,
    #[error("cache not found for key `{key}` (fail-on-cache-miss is set)")]
    CacheMiss { key: String },
    /// Copying files failed; `action` says which and where.
    #[error("{action}: {source}")]
    Files {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

fn files_error(action: String) -> impl FnOnce(std::io::Error) -> BuiltinError {
    move |source| BuiltinError::Files { action, source }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// A path as written in an action input: `~` is the home folder, relative paths are in the
/// workspace.
fn resolve(workspace: &Path, path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    workspace.join(path)
}

fn has_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The files `patterns` name (files, folders, globs; `!pattern` excludes) and the folder
/// their paths are kept relative to: the deepest folder holding every search path, as
/// `upload-artifact` does.
fn collect(workspace: &Path, patterns: &[String]) -> (PathBuf, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut bases = Vec::new();
    let mut excludes = Vec::new();
    for pattern in patterns {
        if let Some(exclude) = pattern.strip_prefix('!') {
            excludes.push(resolve(workspace, exclude).display().to_string());
            continue;
        }
        if has_glob(pattern) {
            let base_text: String = pattern.split('/').take_while(|part| !has_glob(part)).collect::<Vec<_>>().join("/");
            let base = resolve(workspace, &base_text);
            let full = resolve(workspace, pattern).display().to_string();
            let mut found = Vec::new();
            walk_files(&base, &mut found);
            files.extend(found.into_iter().filter(|file| glob_match(&full, &file.display().to_string())));
            bases.push(base);
        } else {
            let path = resolve(workspace, pattern);
            if path.is_dir() {
                walk_files(&path, &mut files);
                bases.push(path);
            } else if path.is_file() {
                bases.push(path.parent().map_or_else(|| path.clone(), Path::to_path_buf));
                files.push(path);
            }
        }
    }
    files.retain(|file| !excludes.iter().any(|exclude| glob_match(exclude, &file.display().to_string())));
    files.sort();
    files.dedup();
    let root = bases.iter().skip(1).fold(bases.first().cloned().unwrap_or_default(), |root, base| {
        root.ancestors().find(|ancestor| base.starts_with(ancestor)).map_or_else(PathBuf::new, Path::to_path_buf)
    });
    (root, files)
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk_files(&path, out),
            Ok(kind) if kind.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// Copies `src` (a file or a folder) to `dest`, merging into folders that exist.
fn copy_into(src: &Path, dest: &Path) -> std::io::Result<u64> {
    if src.is_dir() {
        std::fs::create_dir_all(dest)?;
        let mut n_bytes = 0;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            n_bytes += copy_into(&entry.path(), &dest.join(entry.file_name()))?;
        }
        Ok(n_bytes)
    } else {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(src, dest)
    }
}

/// `retention-days` as `upload-artifact` reads it: empty or 0 is the server's retention,
/// else a whole number of days; the server keeps an artifact no longer than its own
/// retention, as GitHub keeps it no longer than the repository's setting.
fn retention_days(text: &str) -> Result<Option<u32>, BuiltinError> {
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(days) => Ok(Some(days)),
        Err(_) => Err(BuiltinError::RetentionDays { text: text.to_owned() }),
    }
}

/// Stores the artifact in the run's artifacts folder; the step's outputs and, when files were
/// stored, what the agent sends the server.
fn upload(
    runner: &StepRunner<'_>,
    step_idx: usize,
    input: &dyn Fn(&str) -> String,
) -> Result<(Map<String, Value>, Option<StoredArtifact>), BuiltinError> {
    let name = Some(input("name")).filter(|name| !name.is_empty()).unwrap_or_else(|| "artifact".to_owned());
    if name.contains(['/', '\\', ':', '<', '>', '|', '*', '?', '"']) || name == "." || name == ".." {
        return Err(BuiltinError::ArtifactName { name });
    }
    let retention_days = retention_days(&input("retention-days"))?;
    let overwrite = input("overwrite") == "true";
    let (root, files) = collect(&runner.setup.workspace, &lines(&input("path")));
    if files.is_empty() {
        let error = BuiltinError::NoFiles { path: input("path") };
        return match input("if-no-files-found").as_str() {
            "error" => Err(error),
            "ignore" => Ok((Map::new(), None)),
            _ => {
                runner.line(step_idx, &format!("warning: {error}. No artifacts will be uploaded."));
                Ok((Map::new(), None))
            }
        };
    }
    let dest = runner.setup.artifacts.join(&name);
    if dest.exists() {
        if !overwrite {
            return Err(BuiltinError::ArtifactExists { name });
        }
        std::fs::remove_dir_all(&dest).map_err(files_error(format!("replacing artifact `{name}`")))?;
    }
    let mut n_bytes = 0;
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap_or(file);
        n_bytes += copy_into(file, &dest.join(relative)).map_err(files_error(format!("storing {}", file.display())))?;
    }
    runner.line(step_idx, &format!("Uploaded artifact `{name}`: {} file(s), {n_bytes} bytes", files.len()));
    let mut outputs = Map::new();
    outputs.insert("artifact-id".to_owned(), Value::String(name.clone()));
    Ok((outputs, Some(StoredArtifact { name, retention_days, overwrite })))
}

fn download(
    runner: &StepRunner<'_>,
    step_idx: usize,
    input: &dyn Fn(&str) -> String,
) -> Result<Map<String, Value>, BuiltinError> {
    let workspace = &runner.setup.workspace;
    let dest = match input("path") {
        path if path.is_empty() => workspace.clone(),
        path => resolve(workspace, &path),
    };
    let name = input("name");
    let mut names: Vec<String> = if name.is_empty() {
        let listed = std::fs::read_dir(&runner.setup.artifacts).map(|entries| {
            entries.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>()
        });
        let pattern = input("pattern");
        listed.unwrap_or_default().into_iter().filter(|name| pattern.is_empty() || glob_match(&pattern, name)).collect()
    } else {
        vec![name.clone()]
    };
    names.sort();
    let single = !name.is_empty() || input("merge-multiple") == "true";
    for artifact in &names {
        let src = runner.setup.artifacts.join(artifact);
        if !src.is_dir() {
            return Err(BuiltinError::ArtifactMissing { name: artifact.clone() });
        }
        let target = if single { dest.clone() } else { dest.join(artifact) };
        copy_into(&src, &target).map_err(files_error(format!("downloading `{artifact}`")))?;
        runner.line(step_idx, &format!("Downloaded artifact `{artifact}` to {}", target.display()));
    }
    let mut outputs = Map::new();
    outputs.insert("download-path".to_owned(), Value::String(dest.display().to_string()));
    Ok(outputs)
}

/// The folder of the cache entry for `key`.
fn entry_dir(cache: &Path, key: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    cache.join(digest)
}

async fn restore(
    runner: &StepRunner<'_>,
    step_idx: usize,
    input: &(dyn Fn(&str) -> String + Sync),
) -> Result<Map<String, Value>, BuiltinError> {
    let key = input("key");
    if key.is_empty() {
        return Err(BuiltinError::NoCacheKey);
    }
    let paths = lines(&input("path"));
    let mut outputs = Map::new();
    outputs.insert("cache-primary-key".to_owned(), Value::String(key.clone()));
    let Some(cache) = &runner.setup.cache else {
        runner.line(step_idx, "Cache not found: no cache folder is configured.");
        outputs.insert("cache-hit".to_owned(), Value::String("false".to_owned()));
        return Ok(outputs);
    };
    let restore_keys = lines(&input("restore-keys"));
    // `lookup-only` only asks whether an entry exists: nothing is fetched or copied.
    let lookup_only = input("lookup-only") == "true";
    // The matched key, and the folder holding the entry unless only looked up.
    let found: Result<Option<(String, Option<PathBuf>)>, CacheRemoteError> = match &runner.setup.cache_remote {
        // The remote alone decides, since it knows which entries the job may restore; an
        // entry in the folder may be one of another branch or project.
        Some(remote) if lookup_only => {
            remote.lookup(&key, &restore_keys).await.map(|found| found.map(|matched| (matched, None)))
        }
        Some(remote) => remote
            .fetch(&key, &restore_keys, cache)
            .await
            .map(|found| found.map(|(matched, entry)| (matched, Some(entry)))),
        None => Ok(local_match(cache, &key, &restore_keys).map(|matched| {
            let entry = entry_dir(cache, &matched);
            (matched, Some(entry))
        })),
    };
    let found = found.unwrap_or_else(|error| {
        runner.line(step_idx, &format!("warning: {error}; continuing without the cache"));
        None
    });
    let hit = found.as_ref().is_some_and(|(matched, _)| *matched == key);
    outputs.insert("cache-hit".to_owned(), Value::String(hit.to_string()));
    let Some((matched, entry)) = found else {
        if input("fail-on-cache-miss") == "true" {
            return Err(BuiltinError::CacheMiss { key });
        }
        runner.line(step_idx, &format!("Cache not found for input keys: {key}"));
        return Ok(outputs);
    };
    outputs.insert("cache-matched-key".to_owned(), Value::String(matched.clone()));
    let Some(entry) = entry.filter(|_| !lookup_only) else {
        runner.line(step_idx, &format!("Cache found and can be restored from key: {matched}"));
        return Ok(outputs);
    };
    for (path_idx, path) in paths.iter().enumerate() {
        let stored = entry.join("paths").join(path_idx.to_string());
        if stored.exists() {
            copy_into(&stored, &resolve(&runner.setup.workspace, path))
                .map_err(files_error(format!("restoring `{path}` from the cache")))?;
        }
    }
    runner.line(step_idx, &format!("Cache restored from key: {matched}"));
    Ok(outputs)
}

/// The key of the entry in the cache folder `cache` to restore for `key`: the key exactly,
/// else the newest entry whose key starts with it, else with each restore key in turn.
fn local_match(cache: &Path, key: &str, restore_keys: &[String]) -> Option<String> {
    if entry_dir(cache, key).is_dir() {
        return Some(key.to_owned());
    }
    let mut entries: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(cache)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let stored = std::fs::read_to_string(entry.path().join("key")).ok()?;
            let modified = entry.metadata().and_then(|meta| meta.modified()).ok()?;
            Some((modified, stored))
        })
        .collect();
    entries.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    std::iter::once(key).chain(restore_keys.iter().map(String::as_str)).find_map(|prefix| {
        entries.iter().find(|(_, stored)| stored.starts_with(prefix)).map(|(_, stored)| stored.clone())
    })
}

/// Saves the paths under the key, unless an entry for it exists already (entries are
/// immutable, as on GitHub). Written to a temporary folder and renamed, so a crash leaves no
/// half entry; with a remote, the folder goes to it, which says whether the key is taken.
pub(super) async fn save_cache(
    runner: &StepRunner<'_>,
    step_idx: usize,
    save: &PendingSave,
) -> Result<(), BuiltinError> {
    let Some(cache) = &runner.setup.cache else { return Ok(()) };
    if save.key.is_empty() {
        return Err(BuiltinError::NoCacheKey);
    }
    let entry = entry_dir(cache, &save.key);
    if runner.setup.cache_remote.is_none() && entry.exists() {
        runner.line(step_idx, &format!("Cache hit occurred on the primary key {}, not saving cache.", save.key));
        return Ok(());
    }
    if !save.paths.iter().any(|path| resolve(&runner.setup.workspace, path).exists()) {
        // As actions/cache does: a warning, and the job goes on.
        runner.line(
            step_idx,
            "warning: Path Validation Error: Path(s) specified in the action for caching do(es) not exist, \
             hence no cache is being saved.",
        );
        return Ok(());
    }
    let partial = cache.join(format!(
        ".partial-{}-{}",
        std::process::id(),
        entry.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    ));
    let write = || -> std::io::Result<u64> {
        std::fs::create_dir_all(partial.join("paths"))?;
        std::fs::write(partial.join("key"), &save.key)?;
        let mut n_bytes = 0;
        for (path_idx, path) in save.paths.iter().enumerate() {
            let src = resolve(&runner.setup.workspace, path);
            if src.exists() {
                n_bytes += copy_into(&src, &partial.join("paths").join(path_idx.to_string()))?;
            }
        }
        if runner.setup.cache_remote.is_none() {
            std::fs::rename(&partial, &entry)?;
        }
        Ok(n_bytes)
    };
    let n_bytes = match write() {
        Ok(n_bytes) => n_bytes,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(files_error(format!("saving the cache for key `{}`", save.key))(error));
        }
    };
    runner.line(step_idx, &format!("Cache saved with key: {} ({n_bytes} bytes)", save.key));
    if let Some(remote) = &runner.setup.cache_remote
        && let Err(error) = remote.store(&save.key, &partial, cache).await
    {
        runner.line(step_idx, &format!("warning: {error}; the entry is not kept"));
    }
    Ok(())
}
