//! Project secrets at rest: XChaCha20-Poly1305 under the server's key in `secret.key`.
//!
//! Each value gets a fresh random 24-byte nonce (XChaCha's nonce is large enough that random
//! nonces do not collide), and the project id and secret name are the associated data, so a
//! ciphertext copied to another project or name fails to decrypt instead of leaking there.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{ServerError, data_dir};

/// The cipher under the server's key.
pub(crate) struct SecretBox {
    cipher: XChaCha20Poly1305,
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
        Ok(SecretBox { cipher })
    }

    /// Encrypts the value of secret `name` of project `project_id`.
    pub(crate) fn seal(&self, project_id: i64, name: &str, value: &[u8]) -> Sealed {
        let nonce = data_dir::random_bytes::<24>();
        let aad = associated_data(project_id, name);
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: value, aad: &aad })
            .expect("encrypting into a Vec cannot run out of space");
        Sealed { ciphertext, nonce: nonce.to_vec() }
    }

    /// Decrypts the value of secret `name` of project `project_id`; `None` when it was not
    /// sealed under this key for this project and name.
    pub(crate) fn open(&self, project_id: i64, name: &str, ciphertext: &[u8], nonce: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; 24] = nonce.try_into().ok()?;
        let aad = associated_data(project_id, name);
        self.cipher.decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad }).ok()
    }
}

fn associated_data(project_id: i64, name: &str) -> Vec<u8> {
    format!("ferry secret {project_id}/{name}").into_bytes()
}

#[cfg(test)]
mod tests;
