-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE requests (
    id            TEXT PRIMARY KEY,
    env           TEXT NOT NULL,
    team          TEXT NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    requester_id  TEXT NOT NULL,
    request       TEXT NOT NULL,            -- request.DatabaseRequest as JSON
    failure       TEXT,                     -- request.Failure as JSON, while failed
    pr_number     INTEGER NOT NULL DEFAULT 0,
    pr_url        TEXT NOT NULL DEFAULT '',
    plan_summary  TEXT NOT NULL DEFAULT '',
    slack_channel TEXT NOT NULL DEFAULT '',
    slack_ts      TEXT NOT NULL DEFAULT '',
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX requests_database ON requests (env, team, name, created_at);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_requester ON requests (requester_id);
CREATE INDEX requests_pr ON requests (pr_number) WHERE pr_number <> 0;

CREATE TABLE request_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    ref        TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, seq);

CREATE TABLE idempotency (
    scope      TEXT NOT NULL,
    key        TEXT NOT NULL,
    result     BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    workspace    TEXT NOT NULL,
    payload      BLOB,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    lease_owner  TEXT NOT NULL DEFAULT '',
    lease_until  INTEGER,
    last_error   TEXT NOT NULL DEFAULT '',
    result       BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- Claim looks up due queued jobs, expired leases, and live leases on a
-- workspace; finished jobs stay out of all three ranges.
CREATE INDEX jobs_due ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_workspace ON jobs (workspace, state, lease_until);
CREATE INDEX jobs_request ON jobs (request_id);
CREATE INDEX jobs_kind_state ON jobs (kind, state);

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    thread     TEXT NOT NULL,
    state      BLOB,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_thread ON conversations (channel, thread, user_id);
CREATE INDEX conversations_expiry ON conversations (expires_at);
