//! Actions from their repositories: what `uses: owner/repo[/path]@ref` names
//! ([`ActionRef`]), and where its files come from ([`ActionsSource`]: an actions source such
//! as `https://github.com` or a folder of `owner/repo` git repositories, and a store folder
//! that keeps one checkout per resolved commit, shared by jobs and verified on reuse).
//!
//! Reusable workflows from other repositories (`owner/repo/.github/workflows/x.yml@ref`) are
//! fetched the same way.

mod source;

pub use source::{ActionsSource, DEFAULT_ACTIONS_URL, FetchedRepo};

/// Why an action's repository could not be fetched; each message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error(
        "`{0}` is not a valid action reference: write `owner/repo@ref` or `owner/repo/path@ref` \
         (owner and repository names are letters, digits, `-`, `_` and `.`)"
    )]
    BadReference(String),
    #[error("actions source `{base}` is not usable: {reason}")]
    BadSource { base: String, reason: String },
    #[error(
        "repository `{owner}/{repo}` is not in the actions source {source_name}: check the action's name, or \
         point --actions-url (FERRY_ACTIONS_URL) at a source that holds it"
    )]
    RepositoryNotFound { owner: String, repo: String, source_name: String },
    #[error(
        "unable to resolve action `{owner}/{repo}@{git_ref}`: no tag or branch `{git_ref}` in {source_name} \
         (use an existing tag, branch or a full 40-character commit id)"
    )]
    UnknownRef { owner: String, repo: String, git_ref: String, source_name: String },
    #[error("fetching `{owner}/{repo}@{git_ref}` from {source_name} failed: {message}")]
    Fetch { owner: String, repo: String, git_ref: String, source_name: String, message: String },
    #[error("git did not finish `{what}` within {} s; check the network and the actions source", .seconds)]
    Timeout { what: String, seconds: u64 },
    #[error("git is not installed (or not on PATH): install it, for example with `apt-get install git`")]
    GitMissing,
    #[error("the actions store {}: {source}", .path.display())]
    Store { path: std::path::PathBuf, source: std::io::Error },
}

/// A parsed `uses: owner/repo[/path]@ref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRef {
    pub owner: String,
    pub repo: String,
    /// The folder inside the repository (`""` for its root), without leading or trailing `/`.
    pub path: String,
    pub git_ref: String,
}

impl ActionRef {
    /// Parses `owner/repo[/path]@ref`; `None` for a local (`./x`) or `docker://` reference and
    /// for anything else that is not one.
    ///
    /// Names are checked so they can become folder names: owner and repository are letters,
    /// digits, `-`, `_`, `.` (not `.` or `..`), the path has no `..` component, and the ref
    /// does not start with `-` and holds no whitespace, control character, `..` or `:`.
    pub fn parse(reference: &str) -> Option<ActionRef> {
        let (name, git_ref) = reference.rsplit_once('@')?;
        let mut parts = name.splitn(3, '/');
        let owner = parts.next()?;
        let repo = parts.next()?;
        let path = parts.next().unwrap_or("").trim_matches('/');
        let valid_name = |name: &str| {
            !name.is_empty()
                && name != "."
                && name != ".."
                && !name.starts_with('-')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let valid_path = path
            .split('/')
            .all(|part| part != ".." && part != "." && !part.chars().any(|c| c.is_control() || c == '\\'))
            && !path.contains("//");
        let valid_ref = !git_ref.is_empty()
            && !git_ref.starts_with('-')
            && !git_ref.contains("..")
            && !git_ref.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '~' | '^' | '\\'));
        (valid_name(owner) && valid_name(repo) && valid_path && valid_ref).then(|| ActionRef {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            path: path.to_owned(),
            git_ref: git_ref.to_owned(),
        })
    }
}

impl std::fmt::Display for ActionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}/{}@{}", self.owner, self.repo, self.git_ref)
        } else {
            write!(f, "{}/{}/{}@{}", self.owner, self.repo, self.path, self.git_ref)
        }
    }
}

/// Whether `text` is a full commit id (40 hexadecimal digits).
pub fn is_full_sha(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
