//! Passwords (argon2id), API tokens (random, stored as SHA-256), and the caller extracted from
//! a request: `Authorization: Bearer <token>` for scripts, the `tollswitch_session` cookie
//! (HttpOnly, SameSite=Strict) for the console.

use crate::ApiState;
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use tollswitch_storage::Role;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tollswitch_session";

/// Failed logins in a row before the account locks for `SERVER_LOGIN_FAILED_DISABLE_TIME`.
pub const MAX_FAILED_LOGINS: i64 = 5;

/// A session unused this long (12 hours) is over: the next request must log in again.
pub const SESSION_IDLE_MS: i64 = 12 * 3_600_000;

/// The `Set-Cookie` value that hands a session to a browser: HttpOnly (no script reads it),
/// SameSite=Strict (no other site's page sends it), for every path of this server.
pub fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

/// The `Set-Cookie` value that makes a browser forget its session.
pub fn cleared_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| ApiError::internal(format!("random: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// True when `password` matches the PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new random token and the SHA-256 (hex) that is stored in its place.
pub fn new_token() -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::internal(format!("random: {e}")))?;
    let token = format!("ts_{}", hex(&bytes));
    let digest = token_digest(&token);
    Ok((token, digest))
}

/// SHA-256 of a token, hex.
pub fn token_digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// SHA-256 (hex) of the token or session the request came with (what logout deletes).
    pub token_sha256: String,
}

impl Caller {
    /// `Ok` when the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} is {}; this needs {role}",
                self.name, self.role
            )))
        }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let v = v.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// The session token in a request's `Cookie` headers, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(axum::http::header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=')
                && k == SESSION_COOKIE
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

/// The caller a token or session belongs to, now; 401 when it is unknown or expired.
pub async fn authenticate(state: &ApiState, token: &str) -> Result<Caller, ApiError> {
    let digest = token_digest(token);
    let user = state
        .storage
        .user_for_token(&digest, crate::now_ms())
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token or session is not valid"))?;
    Ok(Caller {
        name: user.name,
        role: user.role,
        token_sha256: digest,
    })
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| session_token(&parts.headers))
            .ok_or_else(|| {
                ApiError::unauthorized("log in or send Authorization: Bearer <token>")
            })?;
        authenticate(state, &token).await
    }
}
