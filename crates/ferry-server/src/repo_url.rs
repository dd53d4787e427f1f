//! Credentials in repository URLs (`https://user:token@host/repo.git`): found, kept out of
//! everything the server shows (API, UI, logs, errors, git's own messages) and handed to git
//! another way.
//!
//! A project's repository is created without one (the API refuses it and says to store the
//! credential as the project secret [`TOKEN_SECRET`]); a project stored with one before keeps
//! working, its URL shown without the credential and the credential given to git as the secret
//! would be. git gets it as an `Authorization` header in its environment
//! (`ferry_proto::runner::git_auth_env`, readable only by the server's user), scoped to the
//! repository's URL: never in an argument `ps` shows, never in the mirror's config. Runners
//! get the URL without it and the credential beside it (`JobAssignment::repo_credential`),
//! which they hand to git the same way.

use std::borrow::Cow;

/// The project secret holding the credential git fetches the repository with: `TOKEN` (sent
/// as the password of the user `x-access-token`, which GitHub, Gitea, Forgejo and GitLab
/// accept for an access token) or `USER:PASSWORD`.
pub(crate) const TOKEN_SECRET: &str = "FERRY_REPO_TOKEN";

/// What a redacted credential is shown as.
const REDACTED: &str = "***";

/// The byte range of `url`'s user info when it is a credential: any user info of an
/// `http(s)://` URL (a token alone is a credential there), and user info with a password
/// (`user:secret@`) of any other scheme. An `ssh://git@host/…` user name is not secret.
fn credential_range(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    if scheme.is_empty() || !scheme.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"+-.".contains(&byte)) {
        return None;
    }
    let start = scheme_end + 3;
    let authority_len = url[start..].find(['/', '?', '#']).unwrap_or(url.len() - start);
    let at = url[start..start + authority_len].rfind('@')?;
    let user_info = &url[start..start + at];
    let http = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    (http || user_info.contains(':')).then_some(start..start + at)
}

/// Whether `url` carries a credential in its user info.
pub(crate) fn has_credential(url: &str) -> bool {
    credential_range(url).is_some()
}

/// `url` as it may be shown: its credential replaced by `***`.
pub(crate) fn redacted(url: &str) -> Cow<'_, str> {
    match credential_range(url) {
        Some(range) => Cow::Owned(format!("{}{REDACTED}{}", &url[..range.start], &url[range.end..])),
        None => Cow::Borrowed(url),
    }
}

/// `text` (a git error, a log line) with the credential of every URL in it replaced by `***`:
/// git prints the URLs it was given, and a remote's answer may echo them.
pub(crate) fn redact_text(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        // The URL starts after the last character a scheme cannot hold.
        let start = rest[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |idx| idx + rest[idx..].chars().next().map_or(1, char::len_utf8));
        let len = rest[start..].find(|c: char| c.is_whitespace() || "'\"`<>".contains(c)).unwrap_or(rest.len() - start);
        out.push_str(&rest[..start]);
        out.push_str(&redacted(&rest[start..start + len]));
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `url` without its credential, and the credential as `user:password` (percent-decoded, as
/// git reads it), if it had one.
pub(crate) fn split_credential(url: &str) -> (String, Option<String>) {
    let Some(range) = credential_range(url) else { return (url.to_owned(), None) };
    let user_info = percent_encoding::percent_decode_str(&url[range.clone()]).decode_utf8_lossy().into_owned();
    (format!("{}{}", &url[..range.start], &url[range.end + 1..]), Some(user_info))
}

#[cfg(test)]
mod tests;
