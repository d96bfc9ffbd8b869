//! Operators of the API and console, their API tokens, and the audit log. Password hashing and
//! token generation happen in the `api` crate; this stores what it hands over.

use crate::{Storage, StorageError};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::fmt;
use std::str::FromStr;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read-only.
    Viewer,
    /// Read and change provisioning, payments, parameters; no user administration.
    Operator,
    /// Everything.
    Admin,
}

impl Role {
    /// The stored spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("{s:?} is not a role (admin, operator, viewer)")),
        }
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// PHC string of the argon2id hash (never serialised).
    #[serde(skip)]
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// Logins refused until this unix time in milliseconds.
    pub locked_until_ms: i64,
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Order of the log.
    pub seq: i64,
    /// When (unix milliseconds).
    pub at_ms: i64,
    /// Who.
    pub actor: String,
    /// What (e.g. `parameter.set`).
    pub action: String,
    /// On what (e.g. the parameter name).
    pub object: String,
    /// JSON before, when there was something.
    pub before: Option<String>,
    /// JSON after, when there is something.
    pub after: Option<String>,
}

fn decode_user(r: &AnyRow) -> Result<User, StorageError> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        role: role
            .parse()
            .map_err(|e: String| StorageError::CorruptRecord {
                table: "app_user",
                id: String::new(),
                field: "role",
                message: e,
            })?,
        failed_logins: r.try_get("failed_logins")?,
        locked_until_ms: r.try_get("locked_until_ms")?,
    })
}

/// A valid session's last use is stored again only when it is older than this (one minute).
pub const SESSION_TOUCH_MS: i64 = 60_000;

const USER_COLUMNS: &str = "id, name, password_hash, role, failed_logins, locked_until_ms";

impl Storage {
    /// Adds a user (or replaces the password and role of an existing one).
    pub async fn put_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO app_user (name, password_hash, role, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, \
             role = excluded.role, failed_logins = 0, locked_until_ms = 0",
        )
        .bind(name)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user by name.
    pub async fn user(&self, name: &str) -> Result<Option<User>, StorageError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM app_user WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_user).transpose()
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>, StorageError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM app_user ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode_user).collect()
    }

    /// Records a login outcome: success clears the failure count; failure counts, and sets the
    /// lock when `lock_until_ms` is given.
    pub async fn record_login(
        &self,
        user_id: i64,
        ok: bool,
        lock_until_ms: Option<i64>,
    ) -> Result<(), StorageError> {
        let q = if ok {
            sqlx::query("UPDATE app_user SET failed_logins = 0 WHERE id = $1").bind(user_id)
        } else {
            sqlx::query(
                "UPDATE app_user SET failed_logins = failed_logins + 1, \
                 locked_until_ms = $2 WHERE id = $1",
            )
            .bind(user_id)
            .bind(lock_until_ms.unwrap_or(0))
        };
        q.execute(&self.pool).await?;
        Ok(())
    }

    /// Stores an API token (by its SHA-256, hex) for a user; it never expires.
    pub async fn add_token(
        &self,
        user_id: i64,
        token_sha256: &str,
        label: &str,
        now_ms: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO api_token (user_id, token_sha256, label, created_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(token_sha256)
        .bind(label)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a session token (by its SHA-256, hex): like [`Storage::add_token`], but it stops
    /// being valid once unused for `idle_timeout_ms`.
    pub async fn add_session(
        &self,
        user_id: i64,
        token_sha256: &str,
        now_ms: i64,
        idle_timeout_ms: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO api_token (user_id, token_sha256, label, created_ms, idle_timeout_ms, \
             last_used_ms) VALUES ($1, $2, 'session', $3, $4, $3)",
        )
        .bind(user_id)
        .bind(token_sha256)
        .bind(now_ms)
        .bind(idle_timeout_ms.max(1))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user a token (by its SHA-256, hex) belongs to, at `now_ms`. A session unused for
    /// its idle timeout is deleted and gives `None`; a valid one counts as used now (the stored
    /// time moves at most once per [`SESSION_TOUCH_MS`], so polling pages do not write on
    /// every request).
    pub async fn user_for_token(
        &self,
        token_sha256: &str,
        now_ms: i64,
    ) -> Result<Option<User>, StorageError> {
        let cols: Vec<String> = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect();
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {}, t.idle_timeout_ms, t.last_used_ms FROM api_token t \
             JOIN app_user u ON u.id = t.user_id WHERE t.token_sha256 = $1",
            cols.join(", ")
        )))
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let idle: i64 = row.try_get("idle_timeout_ms")?;
        let last: i64 = row.try_get("last_used_ms")?;
        if idle > 0 {
            if now_ms.saturating_sub(last) >= idle {
                self.delete_token(token_sha256).await?;
                return Ok(None);
            }
            if now_ms.saturating_sub(last) >= SESSION_TOUCH_MS {
                sqlx::query("UPDATE api_token SET last_used_ms = $2 WHERE token_sha256 = $1")
                    .bind(token_sha256)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?;
            }
        }
        decode_user(&row).map(Some)
    }

    /// Deletes a token or session (by its SHA-256, hex); false when there was none.
    pub async fn delete_token(&self, token_sha256: &str) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM api_token WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every session of user `name` (API tokens stay); how many there were.
    pub async fn delete_sessions_of(&self, name: &str) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "DELETE FROM api_token WHERE idle_timeout_ms > 0 \
             AND user_id IN (SELECT id FROM app_user WHERE name = $1)",
        )
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes the sessions unused for their idle timeout at `now_ms`; how many there were.
    pub async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "DELETE FROM api_token WHERE idle_timeout_ms > 0 \
             AND last_used_ms + idle_timeout_ms <= $1",
        )
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        at_ms: i64,
        actor: &str,
        action: &str,
        object: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO audit (at_ms, actor, action, object, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(at_ms)
        .bind(actor)
        .bind(action)
        .bind(object)
        .bind(before)
        .bind(after)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest audit entries first (at most `limit`).
    pub async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, action, object, before, after FROM audit \
             ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object: r.try_get("object")?,
                    before: r.try_get("before")?,
                    after: r.try_get("after")?,
                })
            })
            .collect()
    }
}
