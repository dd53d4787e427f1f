-- Who may do what (postgres): tokens and runners scoped to projects, runner tokens that can be
-- revoked, and the web UI's server-side sessions.

-- A token or runner with `scoped = 1` reaches only the projects listed for it (none when
-- none are listed, so deleting a project never widens a scope); `scoped = 0` reaches all.
ALTER TABLE api_tokens ADD COLUMN scoped BIGINT NOT NULL DEFAULT 0;
CREATE TABLE api_token_projects (
    token_id   BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (token_id, project_id)
);

ALTER TABLE runners ADD COLUMN scoped BIGINT NOT NULL DEFAULT 0;
-- A revoked runner's token stops working; registering the runner again gives it a new one.
ALTER TABLE runners ADD COLUMN revoked_at BIGINT;
CREATE TABLE runner_projects (
    runner_id  BIGINT NOT NULL REFERENCES runners (id) ON DELETE CASCADE,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    PRIMARY KEY (runner_id, project_id)
);

-- A web UI login: the cookie holds a random id, only its SHA-256 is kept. It acts with its
-- token's role and scope, and ends at `expires_at`, at logout or when the token is revoked.
CREATE TABLE sessions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id_hash    TEXT    NOT NULL UNIQUE,
    token_id   BIGINT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
