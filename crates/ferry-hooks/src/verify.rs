//! Authenticating a webhook: HMAC-SHA256 signatures (GitHub, Gitea, Forgejo) and GitLab's
//! secret token, both compared in constant time; and finding the event header.
//!
//! Constant time: signatures are checked with `hmac`'s `verify_slice`, which compares the tags
//! without an early exit. GitLab sends the secret itself, so the token and the secret are both
//! run through HMAC-SHA256 keyed with the secret and the two tags are compared the same way:
//! the comparison takes as long whatever the token holds, and equal tags mean equal strings.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{Forge, HookError, check_size};

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

/// Checks that `body` was sent by the forge holding `secret`: [`BodyCheck`] over the whole
/// body at once.
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
    let mut check = BodyCheck::start(forge, headers, secret)?;
    check.update(body)?;
    check.finish()
}

/// A webhook's signature checked while its body streams in, so that a server refuses what it
/// can before reading any of it and never holds more than [`MAX_BODY`](crate::MAX_BODY) bytes:
/// [`BodyCheck::start`] reads the headers (an absent or malformed signature is refused there,
/// and GitLab's token, which does not depend on the body, is checked whole), then each piece
/// goes through [`BodyCheck::update`] (which refuses the piece that goes past [`MAX_BODY`](crate::MAX_BODY)),
/// and [`BodyCheck::finish`] compares the signature in constant time.
pub struct BodyCheck {
    /// The running HMAC, the signature it must equal and the header it came in; `None` for
    /// GitLab, whose token was checked at the start.
    signed: Option<(Hmac<Sha256>, [u8; 32], &'static str)>,
    len: usize,
}

impl BodyCheck {
    /// Reads the signature headers of `forge` (see [`verify`]) before any of the body.
    ///
    /// # Errors
    /// [`HookError::NoSecret`], [`HookError::MissingSignature`], or [`HookError::BadSignature`]
    /// for a malformed signature or a GitLab token that does not match.
    pub fn start<H: Headers + ?Sized>(forge: Forge, headers: &H, secret: &[u8]) -> Result<BodyCheck, HookError> {
        if secret.is_empty() {
            return Err(HookError::NoSecret);
        }
        let (header, hex) = match forge {
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
                let hex = value.trim().strip_prefix("sha256=").ok_or(HookError::BadSignature {
                    header: GITHUB_SIGNATURE,
                    reason: "does not start with `sha256=`",
                })?;
                (GITHUB_SIGNATURE, hex)
            }
            Forge::Gitea => {
                let value = headers.header(GITEA_SIGNATURE).ok_or(HookError::MissingSignature {
                    header: GITEA_SIGNATURE,
                    hint: ": set the project's secret on the Gitea webhook",
                })?;
                (GITEA_SIGNATURE, value.trim())
            }
            Forge::Forgejo => match headers.header(FORGEJO_SIGNATURE) {
                Some(value) => (FORGEJO_SIGNATURE, value.trim()),
                None => match headers.header(GITEA_SIGNATURE) {
                    Some(value) => (GITEA_SIGNATURE, value.trim()),
                    None => {
                        return Err(HookError::MissingSignature {
                            header: FORGEJO_SIGNATURE,
                            hint: ": set the project's secret on the Forgejo webhook",
                        });
                    }
                },
            },
            Forge::GitLab => {
                let token = headers.header(GITLAB_TOKEN).ok_or(HookError::MissingSignature {
                    header: GITLAB_TOKEN,
                    hint: ": set the project's secret as the GitLab webhook's secret token",
                })?;
                let expected = keyed(secret).chain_update(secret).finalize().into_bytes();
                keyed(secret).chain_update(token.trim().as_bytes()).verify_slice(&expected).map_err(|_| {
                    HookError::BadSignature { header: GITLAB_TOKEN, reason: "does not match the project's secret" }
                })?;
                return Ok(BodyCheck { signed: None, len: 0 });
            }
        };
        let signature = decode_hex(hex).ok_or(HookError::BadSignature { header, reason: "is not 64 hex digits" })?;
        Ok(BodyCheck { signed: Some((keyed(secret), signature, header)), len: 0 })
    }

    /// Takes the next piece of the body.
    ///
    /// # Errors
    /// [`HookError::TooLarge`] once the pieces add up to more than [`MAX_BODY`](crate::MAX_BODY) bytes.
    pub fn update(&mut self, piece: &[u8]) -> Result<(), HookError> {
        self.len = self.len.saturating_add(piece.len());
        check_size(self.len)?;
        if let Some((mac, ..)) = &mut self.signed {
            mac.update(piece);
        }
        Ok(())
    }

    /// Compares the signature with the body's, in constant time.
    ///
    /// # Errors
    /// [`HookError::BadSignature`] when they differ.
    pub fn finish(self) -> Result<(), HookError> {
        let Some((mac, signature, header)) = self.signed else { return Ok(()) };
        mac.verify_slice(&signature).map_err(|_| HookError::BadSignature {
            header,
            reason: "does not match the body signed with the project's secret",
        })
    }
}

/// HMAC-SHA256 keyed with `secret`.
fn keyed(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// The 32 bytes that 64 hex digits (either case) spell, or `None`.
fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, [high, low]) in bytes.iter_mut().zip(digits.as_chunks::<2>().0) {
        let high = char::from(*high).to_digit(16)?;
        let low = char::from(*low).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(bytes)
}

/// The longest delivery id Ferry keeps; forges send GUIDs (36 characters).
pub const MAX_DELIVERY_ID: usize = 256;

/// The headers that carry `forge`'s delivery id, in the order they are looked at.
fn delivery_headers(forge: Forge) -> &'static [&'static str] {
    match forge {
        Forge::GitHub => &["X-GitHub-Delivery"],
        Forge::Gitea => &["X-Gitea-Delivery"],
        Forge::Forgejo => &["X-Forgejo-Delivery", "X-Gitea-Delivery"],
        Forge::GitLab => &["X-Gitlab-Event-UUID"],
    }
}

/// The id the forge gave this delivery (`X-GitHub-Delivery`, `X-Gitea-Delivery`,
/// `X-Forgejo-Delivery` or `X-Gitea-Delivery`, `X-Gitlab-Event-UUID`), trimmed; `None` when
/// absent or blank. A forge sends it again when a delivery is redelivered, so a server that
/// remembers it starts each delivery's runs once.
///
/// # Errors
/// [`HookError::Malformed`] when it is longer than [`MAX_DELIVERY_ID`] bytes.
pub fn delivery_id<H: Headers + ?Sized>(forge: Forge, headers: &H) -> Result<Option<&str>, HookError> {
    let names = delivery_headers(forge);
    let Some(id) = names.iter().filter_map(|name| headers.header(name)).map(str::trim).find(|id| !id.is_empty()) else {
        return Ok(None);
    };
    if id.len() > MAX_DELIVERY_ID {
        return Err(HookError::Malformed { message: format!("`{}` is longer than {MAX_DELIVERY_ID} bytes", names[0]) });
    }
    Ok(Some(id))
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
