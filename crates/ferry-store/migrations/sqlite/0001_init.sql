-- Ferry's server state, first version (SQLite). Forward-only: change it with a new file.
-- Times are integer milliseconds since the Unix epoch, chosen by the caller.
-- Statuses are `queued`, `in_progress`, `completed`; conclusions are GitHub's words
-- (`success`, `failure`, `cancelled`, `skipped`, `neutral`). JSON is stored as text.

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    repo            TEXT    NOT NULL,
    branch          TEXT    NOT NULL,
    webhook_secret  TEXT    NOT NULL,
    next_run_number INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL
);

-- Secrets are encrypted by the server; the store only keeps ciphertext and nonce.
CREATE TABLE secrets (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    ciphertext BLOB    NOT NULL,
    nonce      BLOB    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE variables (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, name)
);

-- API tokens: looked up by their public prefix, verified against the hash; never plaintext.
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    prefix     TEXT    NOT NULL UNIQUE,
    hash       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'developer', 'admin')),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE runners (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    labels            TEXT    NOT NULL,
    token_prefix      TEXT    NOT NULL UNIQUE,
    token_hash        TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    last_heartbeat_at INTEGER
);

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    workflow_file TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    git_ref       TEXT    NOT NULL,
    sha           TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion    TEXT,
    trigger_actor TEXT    NOT NULL,
    trigger_info  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    UNIQUE (project_id, number)
);
CREATE INDEX runs_status ON runs (status, id);

-- Jobs are also the durable queue: a queued job is claimed by a runner whose labels include
-- every row of job_labels, and holds a lease the runner renews with heartbeats.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion       TEXT,
    runner_id        INTEGER REFERENCES runners (id) ON DELETE SET NULL,
    runs_on          TEXT    NOT NULL,
    needs            TEXT    NOT NULL,
    matrix           TEXT    NOT NULL,
    queued_at        INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    lease_expires_at INTEGER,
    -- Set when a running job is asked to stop; the runner learns it from its heartbeat.
    cancel_requested_at INTEGER
);
CREATE INDEX jobs_run ON jobs (run_id);
CREATE INDEX jobs_queue ON jobs (status, id);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_runner ON jobs (runner_id);

CREATE TABLE job_labels (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    label  TEXT    NOT NULL,
    PRIMARY KEY (job_id, label)
);

CREATE TABLE steps (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_idx    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    outcome     TEXT,
    conclusion  TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    -- The last log chunk's sequence number; bumping it serialises appends to one step.
    log_seq     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, step_idx)
);

CREATE TABLE log_chunks (
    step_id    INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    n_lines    INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (step_id, seq)
);

CREATE TABLE artifacts (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    name       TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (run_id, name)
);
CREATE INDEX artifacts_expiry ON artifacts (expires_at);

CREATE TABLE cache_entries (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cache_key  TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (project_id, cache_key)
);
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);

-- At most one run holds a concurrency group at a time.
CREATE TABLE concurrency_groups (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_key   TEXT    NOT NULL,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    acquired_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, group_key)
);
CREATE INDEX concurrency_groups_run ON concurrency_groups (run_id);
