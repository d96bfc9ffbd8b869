-- CDRs and the ledger (SQLite). Keep in step with ../postgres/0002_cdr_ledger.sql: same
-- tables, columns and meaning; only the id columns and the dialect differ.
--
-- Objects are named, not referenced by id: a CDR or ledger row outlives the account or gateway
-- it names (removing an account from the provisioning file must not fail because it has
-- history, and history must not change when an object is removed). Times are BIGINT unix
-- milliseconds (`*_ms`), money BIGINT micro-units (`*_micros`), enumerations snake_case text.

-- One row per call attempt (SPEC §5). `tried` is the JSON list of every routing gateway tried
-- with its code ({gateway, code, reason?}), read back whole; `cdr_attempt` holds the same
-- attempts as rows for the per-gateway statistics.
CREATE TABLE cdr (
    id                 TEXT PRIMARY KEY,
    call_id            TEXT NOT NULL,
    account            TEXT NOT NULL,
    agent              TEXT,
    mapping_gateway    TEXT NOT NULL,
    caller_received    TEXT NOT NULL,
    callee_received    TEXT NOT NULL,
    caller_sent        TEXT NOT NULL,
    callee_sent        TEXT NOT NULL,
    caller_ip          TEXT NOT NULL,
    routing_gateway    TEXT,
    tried              TEXT NOT NULL,
    start_ms           BIGINT NOT NULL,
    ring_ms            BIGINT,
    connect_ms         BIGINT,
    end_ms             BIGINT NOT NULL,
    pdd_ms             BIGINT CHECK (pdd_ms >= 0),
    hold_time_ms       BIGINT NOT NULL CHECK (hold_time_ms >= 0),
    billed_secs        BIGINT NOT NULL CHECK (billed_secs >= 0),
    rate_prefix        TEXT,
    area               TEXT,
    charge_micros      BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    vendor_rate_prefix TEXT,
    final_code         BIGINT NOT NULL CHECK (final_code BETWEEN 100 AND 699),
    ended_by           TEXT NOT NULL,
    end_reason         TEXT NOT NULL
);
CREATE INDEX cdr_by_start ON cdr (start_ms);
CREATE INDEX cdr_by_account ON cdr (account, start_ms);
CREATE INDEX cdr_by_mapping_gateway ON cdr (mapping_gateway, start_ms);
CREATE INDEX cdr_by_routing_gateway ON cdr (routing_gateway, start_ms);
CREATE INDEX cdr_by_final_code ON cdr (final_code, start_ms);

-- Every routing gateway tried, one row each, with the CDR's start time so that statistics over
-- a time range need no join. Written only together with a newly inserted `cdr` row.
CREATE TABLE cdr_attempt (
    cdr_id   TEXT NOT NULL,
    position BIGINT NOT NULL,
    gateway  TEXT NOT NULL,
    code     BIGINT NOT NULL CHECK (code BETWEEN 100 AND 699),
    reason   TEXT,
    start_ms BIGINT NOT NULL
);
CREATE INDEX cdr_attempt_by_start ON cdr_attempt (start_ms);

-- Every balance change, append-only; `id` is the writer's stable id (idempotency), `seq` the
-- order of insertion.
CREATE TABLE ledger (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    account       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    at_ms         BIGINT NOT NULL,
    cdr_id        TEXT,
    note          TEXT
);
CREATE INDEX ledger_by_account ON ledger (account, at_ms);
CREATE INDEX ledger_by_kind ON ledger (kind, at_ms);

-- Payments and recharges: the ledger's payment entries.
CREATE VIEW payment AS
    SELECT seq, id, account, kind, amount_micros, at_ms, cdr_id, note
    FROM ledger WHERE kind = 'payment';
