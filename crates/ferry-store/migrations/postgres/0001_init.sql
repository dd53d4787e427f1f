-- Ferry's server state, first version (PostgreSQL). Forward-only: change it with a new file.
-- Times are integer milliseconds since the Unix epoch, chosen by the caller.
-- Statuses are `queued`, `in_progress`, `completed`; conclusions are GitHub's words
-- (`success`, `failure`, `cancelled`, `skipped`, `neutral`). JSON is stored as text.

CREATE TABLE projects (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    repo            TEXT    NOT NULL,
    branch          TEXT    NOT NULL,
    webhook_secret  TEXT    NOT NULL,
    next_run_number BIGINT  NOT NULL DEFAULT 1,
    created_at      BIGINT  NOT NULL
);

-- Secrets are encrypted by the server; the store only keeps ciphertext and nonce.
CREATE TABLE secrets (
    project_id BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    ciphertext BYTEA   NOT NULL,
    nonce      BYTEA   NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE variables (
    project_id BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (project_id, name)
);

-- API tokens: looked up by their public prefix, verified against the hash; never plaintext.
CREATE TABLE api_tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix     TEXT    NOT NULL UNIQUE,
    hash       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'developer', 'admin')),
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE runners (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    labels            TEXT    NOT NULL,
    token_prefix      TEXT    NOT NULL UNIQUE,
    token_hash        TEXT    NOT NULL,
    created_at        BIGINT  NOT NULL,
    last_heartbeat_at BIGINT
);

CREATE TABLE runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number        BIGINT  NOT NULL,
    workflow_file TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    git_ref       TEXT    NOT NULL,
    sha           TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion    TEXT,
    trigger_actor TEXT    NOT NULL,
    trigger_info  TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT,
    UNIQUE (project_id, number)
);
CREATE INDEX runs_status ON runs (status, id);

-- Jobs are also the durable queue: a queued job is claimed by a runner whose labels include
-- every row of job_labels, and holds a lease the runner renews with heartbeats.
CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    conclusion       TEXT,
    runner_id        BIGINT  REFERENCES runners (id) ON DELETE SET NULL,
    runs_on          TEXT    NOT NULL,
    needs            TEXT    NOT NULL,
    matrix           TEXT    NOT NULL,
    queued_at        BIGINT  NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    lease_expires_at BIGINT,
    -- Set when a running job is asked to stop; the runner learns it from its heartbeat.
    cancel_requested_at BIGINT
);
CREATE INDEX jobs_run ON jobs (run_id);
CREATE INDEX jobs_queue ON jobs (status, id);
CREATE INDEX jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX jobs_runner ON jobs (runner_id);

CREATE TABLE job_labels (
    job_id BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    label  TEXT    NOT NULL,
    PRIMARY KEY (job_id, label)
);

CREATE TABLE steps (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_idx    BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'in_progress', 'completed')),
    outcome     TEXT,
    conclusion  TEXT,
    started_at  BIGINT,
    finished_at BIGINT,
    -- The last log chunk's sequence number; bumping it serialises appends to one step.
    log_seq     BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (job_id, step_idx)
);

CREATE TABLE log_chunks (
    step_id    BIGINT  NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    seq        BIGINT  NOT NULL,
    n_lines    BIGINT  NOT NULL,
    body       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (step_id, seq)
);

CREATE TABLE artifacts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_id     BIGINT  REFERENCES jobs (id) ON DELETE SET NULL,
    name       TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    size       BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT,
    UNIQUE (run_id, name)
);
CREATE INDEX artifacts_expiry ON artifacts (expires_at);

CREATE TABLE cache_entries (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cache_key  TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    size       BIGINT  NOT NULL,
    run_id     BIGINT  REFERENCES runs (id) ON DELETE SET NULL,
    job_id     BIGINT  REFERENCES jobs (id) ON DELETE SET NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT,
    UNIQUE (project_id, cache_key)
);
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);

-- At most one run holds a concurrency group at a time.
CREATE TABLE concurrency_groups (
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_key   TEXT    NOT NULL,
    run_id      BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    acquired_at BIGINT  NOT NULL,
    PRIMARY KEY (project_id, group_key)
);
CREATE INDEX concurrency_groups_run ON concurrency_groups (run_id);
