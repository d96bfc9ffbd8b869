//! The stylesheet and the script, compiled in. Pages link them with a content hash in the
//! query (`?v=…`), so browsers may keep them for a year: a new build links new URLs.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// The first 12 hex digits of the SHA-256 of both assets.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = Sha256::new().chain_update(CSS).chain_update(JS).finalize();
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// The stylesheet's URL.
pub fn css_url() -> String {
    format!("/assets/console.css?v={}", version())
}

/// The script's URL.
pub fn js_url() -> String {
    format!("/assets/console.js?v={}", version())
}

/// `GET /assets/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, CACHE_FOREVER),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
}

/// `GET /assets/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, CACHE_FOREVER),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        JS,
    )
}
