//! Authenticating a webhook: HMAC-SHA256 signatures (GitHub, Gitea, Forgejo) and GitLab's
//! secret token, both compared in constant time; and finding the event header.
//!
//! Constant time: signatures are checked with `hmac`'s `verify_slice`, which compares the tags
//! without an early exit. GitLab sends the secret itself, so the token and the secret are both
//! run through HMAC-SHA256 keyed with the secret and the two tags are compared the same way:
//! the comparison takes as long whatever the token holds, and equal tags mean equal strings.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{Forge, HookError};

/// Request headers, looked up by name with ASCII case ignored (HTTP header names are
/// case-insensitive). Implemented for slices of `(name, value)` pairs; a server wraps its own
/// header map in a newtype.
pub trait Headers {
    /// The value of the first header called `name`, if any.
    fn header(&self, name: &str) -> Option<&str>;
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name)).map(|(_, value)| value.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

const GITHUB_SIGNATURE: &str = "X-Hub-Signature-256";
const GITHUB_LEGACY_SIGNATURE: &str = "X-Hub-Signature";
const GITEA_SIGNATURE: &str = "X-Gitea-Signature";
const FORGEJO_SIGNATURE: &str = "X-Forgejo-Signature";
const GITLAB_TOKEN: &str = "X-Gitlab-Token";

/// Checks that `body` was sent by the forge holding `secret`.
///
/// - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. The legacy SHA-1
///   `X-Hub-Signature` is not accepted on its own.
/// - Gitea: `X-Gitea-Signature: <hex HMAC-SHA256(secret, body)>`.
/// - Forgejo: `X-Forgejo-Signature`, or `X-Gitea-Signature` (which Forgejo sends too) when it
///   is absent.
/// - GitLab: `X-Gitlab-Token: <secret>`.
///
/// Hex digits may be upper or lower case; surrounding whitespace is ignored.
///
/// # Errors
/// [`HookError::NoSecret`] when `secret` is empty, [`HookError::MissingSignature`] when the
/// header is absent, [`HookError::BadSignature`] when it is malformed or does not match.
pub fn verify<H: Headers + ?Sized>(forge: Forge, headers: &H, body: &[u8], secret: &[u8]) -> Result<(), HookError> {
    if secret.is_empty() {
        return Err(HookError::NoSecret);
    }
    match forge {
        Forge::GitHub => {
            let Some(value) = headers.header(GITHUB_SIGNATURE) else {
                let hint = if headers.header(GITHUB_LEGACY_SIGNATURE).is_some() {
                    ", only the legacy SHA-1 `X-Hub-Signature`, which Ferry does not accept: \
                     set a secret on the webhook so that GitHub signs it with SHA-256"
                } else {
                    ": set the project's secret on the GitHub webhook"
                };
                return Err(HookError::MissingSignature { header: GITHUB_SIGNATURE, hint });
            };
            let hex = value
                .trim()
                .strip_prefix("sha256=")
                .ok_or(HookError::BadSignature { header: GITHUB_SIGNATURE, reason: "does not start with `sha256=`" })?;
            check_hmac(GITHUB_SIGNATURE, hex, body, secret)
        }
        Forge::Gitea => {
            let value = headers.header(GITEA_SIGNATURE).ok_or(HookError::MissingSignature {
                header: GITEA_SIGNATURE,
                hint: ": set the project's secret on the Gitea webhook",
            })?;
            check_hmac(GITEA_SIGNATURE, value.trim(), body, secret)
        }
        Forge::Forgejo => {
            let (header, value) = match headers.header(FORGEJO_SIGNATURE) {
                Some(value) => (FORGEJO_SIGNATURE, value),
                None => match headers.header(GITEA_SIGNATURE) {
                    Some(value) => (GITEA_SIGNATURE, value),
                    None => {
                        return Err(HookError::MissingSignature {
                            header: FORGEJO_SIGNATURE,
                            hint: ": set the project's secret on the Forgejo webhook",
                        });
                    }
                },
            };
            check_hmac(header, value.trim(), body, secret)
        }
        Forge::GitLab => {
            let token = headers.header(GITLAB_TOKEN).ok_or(HookError::MissingSignature {
                header: GITLAB_TOKEN,
                hint: ": set the project's secret as the GitLab webhook's secret token",
            })?;
            let expected = keyed(secret).chain_update(secret).finalize().into_bytes();
            keyed(secret).chain_update(token.trim().as_bytes()).verify_slice(&expected).map_err(|_| {
                HookError::BadSignature { header: GITLAB_TOKEN, reason: "does not match the project's secret" }
            })
        }
    }
}

/// HMAC-SHA256 keyed with `secret`.
fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Checks `hex` (64 hex digits) against HMAC-SHA256(secret, body) in constant time.
fn check_hmac(header: &'static str, hex: &str, body: &[u8], secret: &[u8]) -> Result<(), HookError> {
    let signature = decode_hex(hex).ok_or(HookError::BadSignature { header, reason: "is not 64 hex digits" })?;
    keyed(secret).chain_update(body).verify_slice(&signature).map_err(|_| HookError::BadSignature {
        header,
        reason: "does not match the body signed with the project's secret",
    })
}

/// The 32 bytes that 64 hex digits (either case) spell, or `None`.
fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(bytes)
}

/// The header that names the event for `forge`, or those it falls back to.
fn event_headers(forge: Forge) -> &'static [&'static str] {
    match forge {
        Forge::GitHub => &["X-GitHub-Event"],
        Forge::Gitea => &["X-Gitea-Event"],
        Forge::Forgejo => &["X-Forgejo-Event", "X-Gitea-Event"],
        Forge::GitLab => &["X-Gitlab-Event"],
    }
}

/// The event the request carries: `X-GitHub-Event`, `X-Gitea-Event`, `X-Forgejo-Event` (or
/// `X-Gitea-Event`), `X-Gitlab-Event`, trimmed.
///
/// # Errors
/// [`HookError::MissingEventHeader`] when the header is absent or blank.
pub fn event_name<H: Headers + ?Sized>(forge: Forge, headers: &H) -> Result<&str, HookError> {
    let names = event_headers(forge);
    names
        .iter()
        .filter_map(|name| headers.header(name))
        .map(str::trim)
        .find(|value| !value.is_empty())
        .ok_or(HookError::MissingEventHeader { header: names[0] })
}

#[cfg(test)]
mod tests;
