-- Releases and environment-scoped secrets and variables (sqlite).
--
-- A release is immutable and numbered per project and service (1, 2, 3, … in the order
-- made; `Releases::create` assigns the number in its transaction). `files` is its manifest
-- (JSON list of {path, sha256, size, mode}, the bytes in the blob store), `deploy_spec` the
-- `.ferry/deploy.yml` of its commit, `commits` a JSON list of {sha, message, author, at}
-- since the service's previous release. A run makes at most one release per service.
CREATE TABLE releases (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service     TEXT    NOT NULL,
    number      INTEGER NOT NULL,
    commit_sha  TEXT    NOT NULL,
    run_id      INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    author      TEXT,
    files       TEXT    NOT NULL,
    deploy_spec TEXT    NOT NULL,
    commits     TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, service, number)
);
CREATE UNIQUE INDEX releases_run_service ON releases (run_id, service) WHERE run_id IS NOT NULL;

-- Blobs a project's people uploaded themselves (`PUT /api/v1/projects/{name}/blobs/…`): a
-- release made from files may name only these, its runs' artifacts' and its releases' blobs.
CREATE TABLE project_blobs (
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, digest)
);

-- Secrets and variables get an environment: '' is the project's own (every job and every
-- environment), a name is that environment's (its services and the jobs that target it).
-- SQLite cannot change a primary key in place: the tables are rebuilt.
CREATE TABLE secrets_scoped (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment TEXT    NOT NULL DEFAULT '',
    name        TEXT    NOT NULL,
    ciphertext  BLOB    NOT NULL,
    nonce       BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, environment, name)
);
INSERT INTO secrets_scoped (project_id, environment, name, ciphertext, nonce, updated_at)
    SELECT project_id, '', name, ciphertext, nonce, updated_at FROM secrets;
DROP TABLE secrets;
ALTER TABLE secrets_scoped RENAME TO secrets;

CREATE TABLE variables_scoped (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment TEXT    NOT NULL DEFAULT '',
    name        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, environment, name)
);
INSERT INTO variables_scoped (project_id, environment, name, value, updated_at)
    SELECT project_id, '', name, value, updated_at FROM variables;
DROP TABLE variables;
ALTER TABLE variables_scoped RENAME TO variables;
