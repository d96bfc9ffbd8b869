-- Provisioning (SQLite). Keep in step with ../postgres/0001_provisioning.sql: same tables,
-- columns and meaning; only the id columns and the dialect differ.
--
-- Conventions (both backends):
--   * money is BIGINT micro-units (`*_micros`), timestamps BIGINT unix seconds;
--   * booleans are BIGINT 0/1 (sqlx's Any driver cannot decode SQLite BOOLEAN columns);
--   * enumerations are their snake_case TOML spelling (`customer`, `priority_then_lcr`);
--   * objects are unique by name and refer to each other by id;
--   * ordered lists that name other objects or that lookups need are child tables with a
--     `position`; per-gateway settings read only as a whole are JSON text in the model's serde
--     form (`caller_rules`, `time_rules`, `stop_codes`, ...).
--
-- SQLite: AUTOINCREMENT so that the id of a removed object is never handed to a new one (CDRs
-- and the ledger will keep ids); `rate` does without, it is written in bulk and never
-- referred to.

CREATE TABLE rate_table (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    name     TEXT NOT NULL UNIQUE,
    currency TEXT NOT NULL
);

CREATE TABLE rate (
    id                 INTEGER PRIMARY KEY,
    rate_table_id      BIGINT NOT NULL REFERENCES rate_table (id) ON DELETE CASCADE,
    prefix             TEXT NOT NULL,
    area               TEXT NOT NULL,
    price_micros       BIGINT NOT NULL CHECK (price_micros >= 0),
    first_increment    BIGINT NOT NULL CHECK (first_increment >= 1),
    next_increment     BIGINT NOT NULL CHECK (next_increment >= 1),
    connect_fee_micros BIGINT NOT NULL CHECK (connect_fee_micros >= 0),
    effective_from     BIGINT,
    effective_until    BIGINT
);
CREATE INDEX rate_by_table_prefix ON rate (rate_table_id, prefix);

CREATE TABLE account (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL,
    parent_agent_id     BIGINT REFERENCES account (id),
    currency            TEXT NOT NULL,
    balance_micros      BIGINT NOT NULL,
    credit_limit_micros BIGINT NOT NULL CHECK (credit_limit_micros >= 0),
    payment_mode        TEXT NOT NULL,
    status              TEXT NOT NULL,
    expiry              BIGINT,
    rate_table_id       BIGINT REFERENCES rate_table (id),
    line_limit          BIGINT CHECK (line_limit >= 0),
    cps_limit           BIGINT CHECK (cps_limit >= 0)
);

CREATE TABLE gateway_group (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    line_limit BIGINT CHECK (line_limit >= 0)
);

CREATE TABLE routing_gateway (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT NOT NULL UNIQUE,
    vendor_account_id    BIGINT NOT NULL REFERENCES account (id),
    priority             BIGINT NOT NULL CHECK (priority >= 0),
    line_limit           BIGINT CHECK (line_limit >= 0),
    cps_limit            BIGINT CHECK (cps_limit >= 0),
    rate_table_id        BIGINT REFERENCES rate_table (id),
    caller_rules         TEXT NOT NULL,
    callee_rules         TEXT NOT NULL,
    busy_stop            BIGINT NOT NULL CHECK (busy_stop IN (0, 1)),
    stop_codes           TEXT NOT NULL,
    allow_publish        BIGINT NOT NULL CHECK (allow_publish IN (0, 1)),
    options_check        BIGINT NOT NULL CHECK (options_check IN (0, 1)),
    options_period_secs  BIGINT NOT NULL CHECK (options_period_secs >= 0),
    invite_timeout_secs  BIGINT CHECK (invite_timeout_secs >= 0),
    ringing_timeout_secs BIGINT CHECK (ringing_timeout_secs >= 0),
    time_rules           TEXT NOT NULL,
    media_proxy          TEXT NOT NULL,
    codecs               TEXT NOT NULL,
    enabled              BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    p_asserted_identity  TEXT NOT NULL
);

CREATE TABLE routing_gateway_target (
    routing_gateway_id BIGINT NOT NULL REFERENCES routing_gateway (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    host               TEXT NOT NULL,
    port               BIGINT NOT NULL CHECK (port BETWEEN 0 AND 65535),
    transport          TEXT NOT NULL,
    PRIMARY KEY (routing_gateway_id, position)
);

CREATE TABLE routing_gateway_prefix (
    routing_gateway_id BIGINT NOT NULL REFERENCES routing_gateway (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    prefix             TEXT NOT NULL,
    PRIMARY KEY (routing_gateway_id, position)
);
CREATE INDEX routing_gateway_prefix_by_prefix ON routing_gateway_prefix (prefix);

-- `routing_gateway.groups`: the groups a gateway names itself.
CREATE TABLE routing_gateway_group (
    routing_gateway_id BIGINT NOT NULL REFERENCES routing_gateway (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    gateway_group_id   BIGINT NOT NULL REFERENCES gateway_group (id) ON DELETE CASCADE,
    PRIMARY KEY (routing_gateway_id, position)
);

-- `gateway_group.members`: the gateways a group names.
CREATE TABLE gateway_group_member (
    gateway_group_id   BIGINT NOT NULL REFERENCES gateway_group (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    routing_gateway_id BIGINT NOT NULL REFERENCES routing_gateway (id) ON DELETE CASCADE,
    PRIMARY KEY (gateway_group_id, position)
);

CREATE TABLE mapping_gateway (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT NOT NULL UNIQUE,
    account_id             BIGINT NOT NULL REFERENCES account (id),
    digest_username        TEXT,
    digest_password        TEXT,
    line_limit             BIGINT CHECK (line_limit >= 0),
    cps_limit              BIGINT CHECK (cps_limit >= 0),
    caller_rules           TEXT NOT NULL,
    callee_rules           TEXT NOT NULL,
    allowed_prefixes       TEXT NOT NULL,
    forbidden_prefixes     TEXT NOT NULL,
    route_policy           TEXT NOT NULL,
    replace_failed_reason  TEXT NOT NULL,
    max_call_duration_secs BIGINT NOT NULL CHECK (max_call_duration_secs >= 0),
    media_proxy            TEXT NOT NULL,
    codecs                 TEXT NOT NULL,
    enabled                BIGINT NOT NULL CHECK (enabled IN (0, 1))
);
-- Not unique: uniqueness is checked by validation, and a unique index would trip over a
-- username moving from one gateway to another inside one apply.
CREATE INDEX mapping_gateway_by_digest_username ON mapping_gateway (digest_username);

CREATE TABLE mapping_gateway_source (
    mapping_gateway_id BIGINT NOT NULL REFERENCES mapping_gateway (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    source             TEXT NOT NULL,
    PRIMARY KEY (mapping_gateway_id, position)
);
CREATE INDEX mapping_gateway_source_by_source ON mapping_gateway_source (source);

CREATE TABLE mapping_gateway_allowed_group (
    mapping_gateway_id BIGINT NOT NULL REFERENCES mapping_gateway (id) ON DELETE CASCADE,
    position           BIGINT NOT NULL,
    gateway_group_id   BIGINT NOT NULL REFERENCES gateway_group (id) ON DELETE CASCADE,
    PRIMARY KEY (mapping_gateway_id, position)
);

-- System parameters set by the operator; a parameter without a row has its catalogue default.
CREATE TABLE parameter (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
