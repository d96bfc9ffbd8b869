-- CDRs waiting to be pushed to SERVER_CDR_REAL_TIME_REPORT_SERVER, in the order they were
-- stored. A row goes only when the receiver has acknowledged the CDR, so an unreachable
-- receiver delays the push but loses nothing.
CREATE TABLE cdr_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cdr_id TEXT NOT NULL UNIQUE
);
