-- Schemas of ARCHITECTURE.md: geo (reference geography), etl (batches, staging, quarantine),
-- harm (published ward x period results, read by the web app).
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS geo;
CREATE SCHEMA IF NOT EXISTS etl;
CREATE SCHEMA IF NOT EXISTS harm;

-- One row per job run. read = loaded + quarantined whenever a run has finished.
CREATE TABLE etl.batch (
    batch_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job               text        NOT NULL,
    file_name         text        NOT NULL,
    file_sha256       text        NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at       timestamptz,
    status            text        NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'published', 'failed', 'unchanged')),
    rows_read         integer     NOT NULL DEFAULT 0,
    rows_loaded       integer     NOT NULL DEFAULT 0,
    rows_quarantined  integer     NOT NULL DEFAULT 0,
    synthetic         boolean     NOT NULL DEFAULT false,
    notes             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CHECK (status = 'running' OR rows_read = rows_loaded + rows_quarantined)
);
CREATE INDEX batch_job_sha_idx ON etl.batch (job, file_sha256);

-- Rows that could not be loaded, kept whole with a reason a person can act on.
CREATE TABLE etl.quarantine (
    quarantine_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id       bigint  NOT NULL REFERENCES etl.batch ON DELETE CASCADE,
    row_number     integer NOT NULL,
    raw            jsonb   NOT NULL,
    reason         text    NOT NULL
);
CREATE INDEX quarantine_batch_idx ON etl.quarantine (batch_id);
