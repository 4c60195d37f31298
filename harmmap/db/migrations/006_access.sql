-- Access control and audit: people, API keys, failed sign-ins (throttling), and the audit log.
-- Passwords and keys are stored only as hashes (harmmap/access.py). The audit log is append-only:
-- a trigger refuses UPDATE, DELETE and TRUNCATE, so a record of who saw what cannot be edited away
-- through the database role the app uses (a superuser can still drop the trigger: see docs/security.md).

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE auth."user" (
    user_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{1,63}$'),
    role           text NOT NULL CHECK (role IN ('viewer', 'sergeant', 'analyst', 'admin')),
    password_hash  text,                         -- NULL: API keys only, cannot sign in
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);

CREATE TABLE auth.api_key (
    key_id         text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{8}$'),  -- the visible part of the key
    user_id        bigint NOT NULL REFERENCES auth."user",
    role           text NOT NULL CHECK (role IN ('viewer', 'sergeant', 'analyst', 'admin')),
    secret_sha256  bytea NOT NULL CHECK (length(secret_sha256) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    note           text NOT NULL DEFAULT ''
);

-- Browser sessions: the signed cookie carries a random token, the database its SHA-256. Signing out,
-- disabling the user or the end of the lifetime ends the session on the server, not only in the browser.
CREATE TABLE auth.session (
    token_sha256  bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id       bigint NOT NULL REFERENCES auth."user",
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    remote_addr   text
);
CREATE INDEX session_by_user ON auth.session (user_id);

-- Failed sign-ins, for throttling across every worker and restart (rows older than a day are pruned).
CREATE TABLE auth.login_failure (
    at       timestamptz NOT NULL DEFAULT now(),
    account  text NOT NULL,
    address  text NOT NULL
);
CREATE INDEX login_failure_account ON auth.login_failure (account, at);
CREATE INDEX login_failure_address ON auth.login_failure (address, at);

CREATE TABLE audit.event (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal       text,                    -- user name; NULL for anonymous
    principal_kind  text CHECK (principal_kind IN ('session', 'key', 'cli')),
    role            text,
    key_id          text,
    method          text NOT NULL,
    route           text NOT NULL,           -- the endpoint, e.g. api.items, or an action like login
    path            text NOT NULL,           -- path and query string, truncated
    status          integer NOT NULL,
    ward            text,
    borough         text,
    period          text,
    remote_addr     text,
    user_agent      text
);
CREATE INDEX event_at ON audit.event (at);
CREATE INDEX event_principal ON audit.event (principal, at);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON audit.event
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON audit.event
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
