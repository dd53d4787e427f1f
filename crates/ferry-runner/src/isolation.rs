//! What a step may reach of the host that runs it: its environment and, for the server's
//! embedded runner, its files.
//!
//! **Environment.** A step starts from a cleared environment: only the host variables named in
//! [`HOST_VARIABLES`] (and `LC_*`) — what a shell, a compiler and a package manager need, as a
//! login shell on the host would have them —, the ones the runner was told to pass by name
//! ([`Isolation::pass_env`]), then the job's own (`GITHUB_*`, `RUNNER_*`, `env:`, …). No
//! `FERRY_*` variable of the runner's ever reaches a step: `FERRY_TOKEN` is a runner's
//! credential, `FERRY_DATABASE` may hold a password.
//!
//! **Files** ([`Confinement`]). The server's embedded runner works inside the server's data
//! directory (`<data-dir>/runner`), beside `secret.key`, `ferry.db` and `admin.token`. Its steps
//! are confined with a Landlock ruleset: Landlock only grants, so "everything but the data
//! directory, except its `runner/` folder" is written as grants: each directory on the way from
//! `/` to the data directory may be listed, and everything in it but the next directory on that
//! way is granted in full; inside the data directory only the runner's folder is (and, read
//! only, the repositories a job's workspace borrows objects from, listed in its git
//! `alternates`). The rules are a snapshot taken as each step starts: a step cannot create a
//! file directly in one of those directories (`/`, `/var/lib` for `/var/lib/ferry`), so keep the
//! data directory out of `/tmp`. Landlock keeps the step from reading the memory of processes
//! outside its domain (`/proc/<pid>/mem`), but on Linux 6.18 not their environment
//! (`/proc/<pid>/environ`, measured): the server and runner make themselves undumpable
//! ([`protect_this_process`]), which keeps steps of their user out of it unless that user is
//! root (root reads it still, measured with and without CAP_SYS_PTRACE) — so run `ferry server`
//! as a user of its own.
//!
//! The ruleset is applied without `unsafe` (no `pre_exec`): a fresh thread restricts itself
//! and spawns the step, which inherits the thread's domain, and then ends; the rest of the
//! process stays unrestricted. Landlock needs `no_new_privs`, so a confined step cannot gain
//! privileges (`sudo`, setuid programs). Where the kernel has no Landlock, steps run
//! unconfined and this is logged once.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use landlock::{
    ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetStatus, path_beneath_rules,
};

/// The host variables a step gets, as the host has them: the user, the shell's and locale's
/// settings, the temporary folder (and [`NETWORK_VARIABLES`]). `LC_*` too. More by name with [`Isolation::pass_env`].
pub const HOST_VARIABLES: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "HOSTNAME"];

/// The host's proxy and certificate settings: what a step, and git fetching an action, need
/// to reach the network as the host does. Steps get them besides [`HOST_VARIABLES`].
pub const NETWORK_VARIABLES: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The prefix of Ferry's own variables, which never reach a step.
const FERRY_PREFIX: &str = "FERRY_";

/// How a runner isolates the steps it runs.
#[derive(Debug, Clone, Default)]
pub struct Isolation {
    /// Host variables passed to steps besides [`HOST_VARIABLES`], by name (checked by
    /// [`check_pass_env`]).
    pub pass_env: Arc<[String]>,
    /// The folder steps must not reach, when they are confined.
    pub confinement: Option<Arc<Confinement>>,
}

/// Why a runner's isolation settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    #[error(
        "cannot pass `{0}` to steps: FERRY_* variables are Ferry's own (tokens, database URLs) and never reach a step"
    )]
    FerryVariable(String),
    #[error("cannot pass `{0}` to steps: a variable name is letters, digits and `_`, not starting with a digit")]
    BadName(String),
    #[error("cannot confine steps to keep them out of {}: {source}", .path.display())]
    Confine { path: PathBuf, source: io::Error },
}

/// Checks the names given to pass to steps (`--pass-env`).
///
/// # Errors
/// A `FERRY_*` name, or one that cannot be a variable's.
pub fn check_pass_env(names: &[String]) -> Result<(), IsolationError> {
    for name in names {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(IsolationError::BadName(name.clone()));
        }
        if name.to_ascii_uppercase().starts_with(FERRY_PREFIX) {
            return Err(IsolationError::FerryVariable(name.clone()));
        }
    }
    Ok(())
}

/// The variables of `host` (this process's environment) a step starts with: those named in
/// [`HOST_VARIABLES`] and [`NETWORK_VARIABLES`], `LC_*`, and `pass`, never a `FERRY_*` one; values that are not UTF-8 are
/// left out.
pub fn host_env(host: impl IntoIterator<Item = (OsString, OsString)>, pass: &[String]) -> Vec<(String, String)> {
    host.into_iter()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(name, _)| {
            !name.to_ascii_uppercase().starts_with(FERRY_PREFIX)
                && (HOST_VARIABLES.contains(&name.as_str())
                    || NETWORK_VARIABLES.contains(&name.as_str())
                    || name.starts_with("LC_")
                    || pass.iter().any(|passed| passed == name))
        })
        .collect()
}

/// Keeps steps out of one folder (the server's data directory) but for some folders inside it
/// (the runner's work directory). See the module's documentation.
#[derive(Debug)]
pub struct Confinement {
    /// Canonical.
    protected: PathBuf,
    /// Granted in full, though inside `protected`.
    open: Vec<PathBuf>,
    /// Granted for reading, though inside `protected`.
    readable: Vec<PathBuf>,
    /// The ruleset last built, reused while no directory on the way changed: building it
    /// opens every entry of those directories, which cost up to a millisecond per step.
    built: Mutex<Option<Built>>,
}

/// A ruleset and the modification times of the directories on the way when it was built.
#[derive(Debug)]
struct Built {
    stamps: Vec<Option<SystemTime>>,
    ruleset: RulesetCreated,
}

impl Clone for Confinement {
    /// The same folders; the ruleset is built again.
    fn clone(&self) -> Confinement {
        Confinement {
            protected: self.protected.clone(),
            open: self.open.clone(),
            readable: self.readable.clone(),
            built: Mutex::new(None),
        }
    }
}

/// The grants a step's ruleset is made of.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Everything beneath.
    pub full: Vec<PathBuf>,
    /// Reading files and listing folders beneath.
    pub read: Vec<PathBuf>,
    /// Listing folders beneath (the directories on the way to the protected one).
    pub list: Vec<PathBuf>,
}

impl Confinement {
    /// Keeps steps out of `protected` but for `open`, which they may use in full.
    ///
    /// # Errors
    /// `protected` or a folder of `open` does not exist.
    pub fn new(protected: &Path, open: &[PathBuf]) -> Result<Confinement, IsolationError> {
        let canonical = |path: &Path| {
            path.canonicalize().map_err(|source| IsolationError::Confine { path: path.to_path_buf(), source })
        };
        Ok(Confinement {
            protected: canonical(protected)?,
            open: open.iter().map(|path| canonical(path)).collect::<Result<_, _>>()?,
            readable: Vec::new(),
            built: Mutex::new(None),
        })
    }

    /// This confinement, with `paths` readable too (a job's repository objects).
    #[must_use]
    pub fn with_readable(&self, paths: impl IntoIterator<Item = PathBuf>) -> Confinement {
        let mut confinement = self.clone();
        confinement.readable.extend(paths.into_iter().filter_map(|path| path.canonicalize().ok()));
        confinement
    }

    /// The folder steps are kept out of.
    #[must_use]
    pub fn protected(&self) -> &Path {
        &self.protected
    }

    /// The grants as the file system is now: along the way from `/` to the protected folder,
    /// every entry but the next step on the way (symbolic links are left out: Landlock checks
    /// where they lead), then the open and readable folders.
    ///
    /// # Errors
    /// A directory on the way cannot be listed.
    pub fn rules(&self) -> io::Result<Rules> {
        let mut rules = Rules::default();
        for pair in self.way().windows(2) {
            let (dir, next) = (pair[0], pair[1]);
            rules.list.push(dir.to_path_buf());
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let path = entry.path();
                if path != next && !entry.file_type()?.is_symlink() {
                    rules.full.push(path);
                }
            }
        }
        rules.full.extend(self.open.iter().cloned());
        rules.read.extend(self.readable.iter().cloned());
        Ok(rules)
    }

    /// `/` and each directory down to the protected folder.
    fn way(&self) -> Vec<&Path> {
        let mut way: Vec<&Path> = self.protected.ancestors().collect();
        way.reverse();
        way
    }

    /// The ruleset for [`Confinement::rules`] as they are now: the one built before, unless a
    /// directory on the way changed since (an entry added, removed or renamed changes its
    /// modification time; it is read before the entries, so a change in between is seen
    /// next time).
    fn ruleset(&self) -> io::Result<RulesetCreated> {
        let fail =
            |error: landlock::RulesetError| io::Error::other(format!("confining the step with Landlock: {error}"));
        let way = self.way();
        let stamps: Vec<Option<SystemTime>> = way[..way.len().saturating_sub(1)]
            .iter()
            .map(|dir| dir.metadata().and_then(|meta| meta.modified()).ok())
            .collect();
        let mut built = self.built.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(built) = built.as_ref()
            && built.stamps == stamps
        {
            return built.ruleset.try_clone();
        }
        let rules = self.rules()?;
        let abi = ABI::V5;
        let all = AccessFs::from_all(abi);
        let read = AccessFs::from_read(abi);
        let ruleset = Ruleset::default()
            .handle_access(all)
            .and_then(|ruleset| ruleset.create())
            .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(&rules.full, all)))
            .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(&rules.read, read)))
            .and_then(|ruleset| ruleset.add_rules(path_beneath_rules(&rules.list, AccessFs::ReadDir)))
            .map_err(fail)?;
        let copy = ruleset.try_clone()?;
        *built = Some(Built { stamps, ruleset });
        Ok(copy)
    }

    /// Restricts the calling thread (and the processes it starts from now on) to
    /// [`Confinement::rules`]. Where the kernel has no Landlock it logs a warning, once per
    /// process, and restricts nothing.
    ///
    /// # Errors
    /// The rules could not be read or the ruleset not be applied.
    pub fn restrict_current_thread(&self) -> io::Result<()> {
        let status = self
            .ruleset()?
            .restrict_self()
            .map_err(|error| io::Error::other(format!("confining the step with Landlock: {error}")))?;
        if status.ruleset == RulesetStatus::NotEnforced {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    protected = %self.protected.display(),
                    "this kernel has no Landlock: steps of the embedded runner can read {}; \
                     run jobs on a separate `ferry runner` (another user, container or host) instead",
                    self.protected.display()
                );
            }
        }
        Ok(())
    }
}

/// Keeps processes of this process's user from reading its memory and environment
/// (`/proc/<pid>/environ`, where `FERRY_TOKEN` may be): this process is made not dumpable (no
/// core dumps either). Root still can; a failure is only logged.
pub fn protect_this_process() {
    if let Err(error) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!(%error, "cannot make this process undumpable; steps of its user may read its environment");
    }
}

/// The repositories a git workspace borrows objects from (its `objects/info/alternates`).
#[must_use]
pub fn alternates_of(workspace: &Path) -> Vec<PathBuf> {
    let file = workspace.join(".git").join("objects").join("info").join("alternates");
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests;
