//! API tokens: how they look, how they are stored and checked, and the role extractors
//! handlers take (`Viewer`, `Developer`, `Admin`).
//!
//! A token is `ferry_<prefix>_<secret>`: 8 random bytes of public prefix (the lookup key) and
//! 32 random bytes of secret, both in hex. Only the prefix and the SHA-256 of the secret are
//! stored. The secret is random and long, so a fast hash is enough (nothing to brute-force),
//! and the hashes are compared in constant time.
//!
//! The web UI's `ferry_session` cookie (set by `POST /login`) stands in for the header; a
//! request it authenticates must also send `X-Ferry-CSRF: 1` unless it only reads.

use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use ferry_store::{ApiToken, NewApiToken, Role, Runner, Store};
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

/// A new runner token: `ferryr_<prefix>_<secret>`, stored as prefix + SHA-256 of the secret.
pub(crate) fn generate_runner_token() -> NewToken {
    let token = generate();
    NewToken { plaintext: token.plaintext.replacen("ferry_", "ferryr_", 1), ..token }
}

/// The runner whose token `plaintext` is, if any.
pub(crate) async fn verify_runner(store: &Store, plaintext: &str) -> Result<Option<Runner>, ApiError> {
    let Some((prefix, secret)) = plaintext.strip_prefix("ferryr_").and_then(|rest| rest.split_once('_')) else {
        return Ok(None);
    };
    let Some(runner) = store.runners().by_token_prefix(prefix).await? else { return Ok(None) };
    let matches: bool = hash(secret).as_bytes().ct_eq(runner.token_hash.as_bytes()).into();
    Ok(matches.then_some(runner))
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

/// The bearer token of a request, or 401.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok());
    let bearer =
        header.and_then(|value| value.split_once(' ')).filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    match bearer {
        Some((_, plaintext)) => Ok(plaintext.trim()),
        None => match session_cookie(parts) {
            Some(plaintext) => {
                check_csrf(parts)?;
                Ok(plaintext)
            }
            None => Err(ApiError::unauthorized("an `Authorization: Bearer <token>` header is required")),
        },
    }
}

/// A request the session cookie authenticates may change something only with the header
/// `X-Ferry-CSRF: 1`, which the UI's scripts send: a form or page on another site can make
/// the browser send the cookie but not a custom header (that needs CORS, which the server
/// never answers). Reads (GET, HEAD) need no header.
fn check_csrf(parts: &Parts) -> Result<(), ApiError> {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return Ok(());
    }
    if parts.headers.get("x-ferry-csrf").is_some_and(|value| value.as_bytes() == b"1") {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "a request authenticated by the `ferry_session` cookie must send the header `X-Ferry-CSRF: 1` \
         (or use `Authorization: Bearer <token>` instead of the cookie)",
    ))
}

/// The token the web UI keeps in its `ferry_session` cookie after a person logs in.
pub(crate) fn session_cookie(parts: &Parts) -> Option<&str> {
    parts.headers.get_all(axum::http::header::COOKIE).iter().filter_map(|value| value.to_str().ok()).find_map(
        |cookies| {
            cookies
                .split(';')
                .find_map(|cookie| cookie.trim().strip_prefix("ferry_session="))
                .filter(|token| !token.is_empty())
        },
    )
}

/// Checks the bearer token (401 when missing, unknown or revoked) and the role (403 when
/// below `role`).
async fn authorize(parts: &Parts, state: &AppState, role: Role) -> Result<ApiToken, ApiError> {
    let plaintext = bearer(parts)?;
    let Some(token) = verify(&state.store, plaintext).await? else {
        return Err(ApiError::unauthorized("the token is not valid or was revoked"));
    };
    if token.role < role {
        return Err(ApiError::forbidden(format!(
            "this needs the {} role; the token has {}",
            role.as_str(),
            token.role.as_str()
        )));
    }
    Ok(token)
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        pub(crate) struct $name;

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                authorize(parts, state, $role).await.map(|_| $name)
            }
        }
    };
}

role_extractor!(Viewer, Role::Viewer, "A caller with at least the viewer role (reads).");

/// A caller with at least the developer role (projects, secrets, runs), and its token (whose
/// name is recorded as who started a run).
pub(crate) struct Developer(pub(crate) ApiToken);

impl FromRequestParts<AppState> for Developer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(parts, state, Role::Developer).await.map(Developer)
    }
}
role_extractor!(Admin, Role::Admin, "A caller with the admin role (tokens).");

/// A registered runner, by its runner token (`ferryr_…`); 401 otherwise.
pub(crate) struct RunnerCaller(pub(crate) Runner);

impl FromRequestParts<AppState> for RunnerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let plaintext = bearer(parts)?;
        match verify_runner(&state.store, plaintext).await? {
            Some(runner) => Ok(RunnerCaller(runner)),
            None => {
                Err(ApiError::unauthorized("this route needs a runner token (`ferryr_…`, from POST /api/v1/runners)"))
            }
        }
    }
}

#[cfg(test)]
mod tests;
