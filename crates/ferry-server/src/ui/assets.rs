//! The UI's stylesheet and scripts, compiled into the binary. Pages link them as
//! `/ui/assets/{file}?v={hash of the content}`, so they can be cached for a year: a new
//! binary with other content links another URL.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset { name: "ferry.css", content_type: "text/css; charset=utf-8", body: include_str!("assets/ferry.css") },
    Asset { name: "app.js", content_type: "text/javascript; charset=utf-8", body: include_str!("assets/app.js") },
    Asset { name: "log.js", content_type: "text/javascript; charset=utf-8", body: include_str!("assets/log.js") },
];

/// The version query of each asset, by position in [`ASSETS`]: the start of its SHA-256.
static VERSIONS: LazyLock<Vec<String>> =
    LazyLock::new(|| ASSETS.iter().map(|asset| hex::encode(&Sha256::digest(asset.body.as_bytes())[..6])).collect());

/// The URL a page links `name` by.
pub(super) fn url(name: &str) -> String {
    let idx = ASSETS.iter().position(|asset| asset.name == name).expect("pages link only embedded assets");
    format!("/ui/assets/{name}?v={}", VERSIONS[idx])
}

/// `GET /ui/assets/{file}`: no session needed (the login page uses them; they hold no data).
pub(super) async fn get(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => {
            ([(CONTENT_TYPE, asset.content_type), (CACHE_CONTROL, "public, max-age=31536000, immutable")], asset.body)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
