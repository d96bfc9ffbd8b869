-- Counters a running switch polls to notice changes made by other processes (the CLI, the
-- API, another node): `provisioning_revision` grows with every apply, rate import and
-- parameter change.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('provisioning_revision', 0);
