//! API tokens: how they look, how they are stored and checked, and the role extractors
//! handlers take (`Viewer`, `Developer`, `Admin`).
//!
//! A token is `ferry_<prefix>_<secret>`: 8 random bytes of public prefix (the lookup key) and
//! 32 random bytes of secret, both in hex. Only the prefix and the SHA-256 of the secret are
//! stored. The secret is random and long, so a fast hash is enough (nothing to brute-force),
//! and the hashes are compared in constant time.

use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ferry_store::{ApiToken, NewApiToken, Role, Store};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::info;

use crate::api::ApiError;
use crate::{AppState, ServerError, data_dir, now_ms};

/// A token just made: the plaintext (shown once) and what is stored.
pub(crate) struct NewToken {
    pub(crate) plaintext: String,
    pub(crate) prefix: String,
    pub(crate) hash: String,
}

/// Makes a new random token.
pub(crate) fn generate() -> NewToken {
    let prefix = hex(&data_dir::random_bytes::<8>());
    let secret = hex(&data_dir::random_bytes::<32>());
    NewToken { plaintext: format!("ferry_{prefix}_{secret}"), hash: hash(&secret), prefix }
}

/// The hex SHA-256 of a token's secret part, as stored.
fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        write!(out, "{byte:02x}").expect("writing to a String cannot fail");
        out
    })
}

/// The active token `plaintext` is, if any.
pub(crate) async fn verify(store: &Store, plaintext: &str) -> Result<Option<ApiToken>, ApiError> {
    let Some((prefix, secret)) = plaintext.strip_prefix("ferry_").and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    let Some(token) = store.tokens().active_by_prefix(prefix).await? else { return Ok(None) };
    let matches: bool = hash(secret).as_bytes().ct_eq(token.hash.as_bytes()).into();
    Ok(matches.then_some(token))
}

/// On the first start (the database holds no token at all), creates an admin token and writes
/// it to `<data_dir>/admin.token` (owner-only); returns that path when it did.
pub(crate) async fn ensure_admin_token(store: &Store, data_dir: &Path) -> Result<Option<PathBuf>, ServerError> {
    if !store.tokens().list().await?.is_empty() {
        return Ok(None);
    }
    let path = data_dir.join("admin.token");
    // A file left from another database would name a token this one does not know.
    if let Err(error) = std::fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        return Err(ServerError::DataDir { action: "removing", path, source: error });
    }
    let token = generate();
    data_dir::write_private(&path, format!("{}\n", token.plaintext).as_bytes())?;
    store
        .tokens()
        .create(&NewApiToken { prefix: &token.prefix, hash: &token.hash, name: "admin", role: Role::Admin }, now_ms())
        .await?;
    info!(path = %path.display(), "created the first admin token in {}", path.display());
    Ok(Some(path))
}

/// Checks the bearer token (401 when missing, unknown or revoked) and the role (403 when
/// below `role`).
async fn authorize(parts: &Parts, state: &AppState, role: Role) -> Result<(), ApiError> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok());
    let bearer =
        header.and_then(|value| value.split_once(' ')).filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    let Some((_, plaintext)) = bearer else {
        return Err(ApiError::unauthorized("an `Authorization: Bearer <token>` header is required"));
    };
    let Some(token) = verify(&state.store, plaintext.trim()).await? else {
        return Err(ApiError::unauthorized("the token is not valid or was revoked"));
    };
    if token.role < role {
        return Err(ApiError::forbidden(format!(
            "this needs the {} role; the token has {}",
            role.as_str(),
            token.role.as_str()
        )));
    }
    Ok(())
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name;

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                authorize(parts, state, $role).await.map(|()| $name)
            }
        }
    };
}

role_extractor!(Viewer, Role::Viewer, "A caller with at least the viewer role (reads).");
role_extractor!(Developer, Role::Developer, "A caller with at least the developer role (projects, secrets).");
role_extractor!(Admin, Role::Admin, "A caller with the admin role (tokens).");

#[cfg(test)]
mod tests;
