//! Project secrets at rest: XChaCha20-Poly1305 under the server's key in `secret.key`.
//!
//! Each value gets a fresh random 24-byte nonce (XChaCha's nonce is large enough that random
//! nonces do not collide), and the project id and secret name are the associated data, so a
//! ciphertext copied to another project or name fails to decrypt instead of leaking there.
//!
//! Webhook secrets are sealed the same way, bound to their project, and kept as text in the
//! project's row: `sealed1:` then the nonce and the ciphertext in hex. A row without that
//! prefix was written before they were sealed; `bind` seals those at start.
//!
//! The key also derives (HMAC-SHA256 over a label) the key jobs' runtime tokens are signed
//! with (`runtime/token.rs`), so they outlive a restart of the server as the key does.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{ServerError, data_dir};

/// The cipher under the server's key.
pub(crate) struct SecretBox {
    cipher: XChaCha20Poly1305,
    runtime_key: [u8; 32],
}

/// A sealed value as the store keeps it.
pub(crate) struct Sealed {
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) nonce: Vec<u8>,
}

impl SecretBox {
    /// Reads the key at `path`, or creates one there (owner-only) on first start.
    pub(crate) fn load_or_create(path: &Path) -> Result<SecretBox, ServerError> {
        let key = match data_dir::read(path)? {
            Some(key) => key,
            None => {
                let key = data_dir::random_bytes::<32>();
                data_dir::write_private(path, &key)?;
                key.to_vec()
            }
        };
        let cipher =
            XChaCha20Poly1305::new_from_slice(&key).map_err(|_| ServerError::BadKey { path: path.to_owned() })?;
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&key).expect("HMAC takes a key of any length");
        mac.update(b"ferry runtime tokens v1");
        let runtime_key = mac.finalize().into_bytes().into();
        Ok(SecretBox { cipher, runtime_key })
    }

    /// The key jobs' `ACTIONS_RUNTIME_TOKEN`s are signed with, derived from the server's key.
    pub(crate) fn runtime_key(&self) -> [u8; 32] {
        self.runtime_key
    }

    /// Encrypts the value of secret `name` of project `project_id`.
    pub(crate) fn seal(&self, project_id: i64, name: &str, value: &[u8]) -> Sealed {
        self.seal_bound(&associated_data(project_id, name), value)
    }

    /// Decrypts the value of secret `name` of project `project_id`; `None` when it was not
    /// sealed under this key for this project and name.
    pub(crate) fn open(&self, project_id: i64, name: &str, ciphertext: &[u8], nonce: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let aad = associated_data(project_id, name);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad }).ok()
    }
}

/// How a sealed webhook secret's text starts.
const WEBHOOK_PREFIX: &str = "sealed1:";

impl SecretBox {
    /// The text a project's row keeps for webhook secret `secret` ("" stays "": no secret).
    pub(crate) fn seal_webhook_secret(&self, project_id: i64, secret: &str) -> String {
        if secret.is_empty() {
            return String::new();
        }
        let sealed = self.seal_bound(&webhook_associated_data(project_id), secret.as_bytes());
        format!("{WEBHOOK_PREFIX}{}{}", hex::encode(&sealed.nonce), hex::encode(&sealed.ciphertext))
    }

    /// The webhook secret a project's row keeps as `stored`: opened when sealed, as it is when
    /// written before secrets were sealed (`is_sealed_webhook_secret` tells); `None` when it
    /// does not open under this key for this project.
    pub(crate) fn open_webhook_secret(&self, project_id: i64, stored: &str) -> Option<Vec<u8>> {
        let Some(sealed) = stored.strip_prefix(WEBHOOK_PREFIX) else { return Some(stored.as_bytes().to_vec()) };
        let bytes = hex::decode(sealed).ok()?;
        let (nonce, ciphertext) = bytes.split_at_checked(24)?;
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let aad = webhook_associated_data(project_id);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad }).ok()
    }

    fn seal_bound(&self, aad: &[u8], value: &[u8]) -> Sealed {
        let nonce = data_dir::random_bytes::<24>();
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value, aad })
            .expect("encrypting into a Vec cannot run out of space");
        Sealed { ciphertext, nonce: nonce.to_vec() }
    }
}

/// Whether a project's row keeps its webhook secret sealed (or has none).
pub(crate) fn is_sealed_webhook_secret(stored: &str) -> bool {
    stored.is_empty() || stored.starts_with(WEBHOOK_PREFIX)
}

fn webhook_associated_data(project_id: i64) -> Vec<u8> {
    format!("ferry webhook secret {project_id}").into_bytes()
}

fn associated_data(project_id: i64, name: &str) -> Vec<u8> {
    format!("ferry secret {project_id}/{name}").into_bytes()
}

#[cfg(test)]
mod tests;
