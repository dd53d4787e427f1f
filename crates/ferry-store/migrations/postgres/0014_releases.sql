-- Releases and environment-scoped secrets and variables (postgres).
--
-- A release is immutable and numbered per project and service (1, 2, 3, … in the order
-- made; `Releases::create` assigns the number in its transaction). `files` is its manifest
-- (JSON list of {path, sha256, size, mode}, the bytes in the blob store), `deploy_spec` the
-- `.ferry/deploy.yml` of its commit, `commits` a JSON list of {sha, message, author, at}
-- since the service's previous release. A run makes at most one release per service.
CREATE TABLE releases (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service     TEXT    NOT NULL,
    number      BIGINT  NOT NULL,
    commit_sha  TEXT    NOT NULL,
    run_id      BIGINT REFERENCES runs (id) ON DELETE SET NULL,
    author      TEXT,
    files       TEXT    NOT NULL,
    deploy_spec TEXT    NOT NULL,
    commits     TEXT    NOT NULL DEFAULT '[]',
    created_at  BIGINT  NOT NULL,
    UNIQUE (project_id, service, number)
);
CREATE UNIQUE INDEX releases_run_service ON releases (run_id, service) WHERE run_id IS NOT NULL;

-- Blobs a project's people uploaded themselves (`PUT /api/v1/projects/{name}/blobs/…`): a
-- release made from files may name only these, its runs' artifacts' and its releases' blobs.
CREATE TABLE project_blobs (
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    digest     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, digest)
);

-- Secrets and variables get an environment: '' is the project's own (every job and every
-- environment), a name is that environment's (its services and the jobs that target it).
ALTER TABLE secrets ADD COLUMN environment TEXT NOT NULL DEFAULT '';
ALTER TABLE secrets DROP CONSTRAINT secrets_pkey;
ALTER TABLE secrets ADD PRIMARY KEY (project_id, environment, name);
ALTER TABLE variables ADD COLUMN environment TEXT NOT NULL DEFAULT '';
ALTER TABLE variables DROP CONSTRAINT variables_pkey;
ALTER TABLE variables ADD PRIMARY KEY (project_id, environment, name);
