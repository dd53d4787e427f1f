//! Secrets in the desired state the agent keeps on disk: each value of a release's
//! `secret_keys` is sealed with XChaCha20-Poly1305 under a key derived by HKDF-SHA256 from the
//! agent token, so a copy of the directory alone (without the token) leaks no secret.
//!
//! A sealed value is `sealed1:` then the random 24-byte nonce and the ciphertext in hex; the
//! unit and the key are the associated data, so a value moved to another key fails to open.
//! A value without the prefix is taken as it is (a desired state written by hand, in tests).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ferry_proto::agent::{DesiredState, ReleaseSpec, UnitKey};
use hkdf::Hkdf;
use sha2::Sha256;

/// How a sealed value starts.
const PREFIX: &str = "sealed1:";

/// Seals and opens the secrets of desired states under one agent token.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

/// A sealed value that does not open under this agent's token: sealed under another one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}/{}/{} {name}", unit.project, unit.service, unit.environment)]
pub struct SealError {
    /// The unit whose release holds the value.
    pub unit: UnitKey,
    /// The secret's name.
    pub name: String,
}

impl Sealer {
    /// The sealer whose key derives from `token`.
    #[must_use]
    pub fn from_token(token: &str) -> Sealer {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"ferry agent desired state"), token.trim().as_bytes())
            .expand(b"ferry-agent seal v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let cipher = XChaCha20Poly1305::new_from_slice(&key).expect("the key is 32 bytes, as XChaCha20-Poly1305 takes");
        Sealer { cipher }
    }

    /// `desired` with every secret value sealed.
    #[must_use]
    pub fn seal_desired(&self, desired: &DesiredState) -> DesiredState {
        let mut desired = desired.clone();
        for unit in &mut desired.units {
            let key = unit.key.clone();
            for release in releases_of(&mut unit.release, &mut unit.deployment) {
                for (name, value) in secrets_of(release) {
                    if !value.starts_with(PREFIX) {
                        *value = self.seal(&key, &name, value);
                    }
                }
            }
        }
        desired
    }

    /// `desired` with every sealed value opened.
    ///
    /// # Errors
    /// [`SealError`] naming the unit and key of the first value that does not open under this
    /// token.
    pub fn open_desired(&self, mut desired: DesiredState) -> Result<DesiredState, SealError> {
        for unit in &mut desired.units {
            let key = unit.key.clone();
            for release in releases_of(&mut unit.release, &mut unit.deployment) {
                for (name, value) in secrets_of(release) {
                    if let Some(sealed) = value.strip_prefix(PREFIX) {
                        *value = self
                            .open(&key, &name, sealed)
                            .ok_or_else(|| SealError { unit: key.clone(), name: name.clone() })?;
                    }
                }
            }
        }
        Ok(desired)
    }

    fn seal(&self, key: &UnitKey, name: &str, value: &str) -> String {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source is available");
        let aad = associated_data(key, name);
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value.as_bytes(), aad: &aad })
            .expect("sealing a value in memory does not fail");
        format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(ciphertext))
    }

    fn open(&self, key: &UnitKey, name: &str, sealed: &str) -> Option<String> {
        let bytes = hex::decode(sealed).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let aad = associated_data(key, name);
        let plain = self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad }).ok()?;
        String::from_utf8(plain).ok()
    }
}

fn associated_data(key: &UnitKey, name: &str) -> Vec<u8> {
    format!("{}\0{}\0{}\0{name}", key.project, key.service, key.environment).into_bytes()
}

/// The releases a unit names: the one serving and the deployment's.
fn releases_of<'a>(
    release: &'a mut Option<ReleaseSpec>,
    deployment: &'a mut Option<ferry_proto::agent::DeploymentOrder>,
) -> impl Iterator<Item = &'a mut ReleaseSpec> {
    release.as_mut().into_iter().chain(deployment.as_mut().map(|order| &mut order.release))
}

/// The secret values of `release`, with their names.
fn secrets_of(release: &mut ReleaseSpec) -> impl Iterator<Item = (String, &mut String)> {
    let secret_keys = &release.secret_keys;
    release.env.iter_mut().filter(|(name, _)| secret_keys.contains(name)).map(|(name, value)| (name.clone(), value))
}

#[cfg(test)]
mod tests;
