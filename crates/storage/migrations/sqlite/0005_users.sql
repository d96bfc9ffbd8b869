-- Operators of the API and console: argon2id password hashes, roles, API tokens (stored as
-- SHA-256 of the token), login failure counters for the lockout, and the audit log.
CREATE TABLE app_user (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    failed_logins  BIGINT NOT NULL DEFAULT 0,
    locked_until_ms BIGINT NOT NULL DEFAULT 0,
    created_ms     BIGINT NOT NULL
);

CREATE TABLE api_token (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    token_sha256 TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    before     TEXT,
    after      TEXT
);
CREATE INDEX audit_by_time ON audit (at_ms);
