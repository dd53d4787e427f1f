-- DORA (sqlite): the deployments the keys count, the commits each brought, and incidents.
--
-- `dora_deployments` is the ledger of finished deployments of a unit (project, service,
-- environment): Ferry's own (`deployment_id` names the row in `deployments`, written when its
-- outcome is recorded), those of workflow jobs with `environment:`, and those sent from
-- outside (`source` 'api' or 'import'; `started_at` NULL). Times are milliseconds.
CREATE TABLE dora_deployments (
    id            INTEGER PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    deployment_id INTEGER UNIQUE REFERENCES deployments (id) ON DELETE SET NULL,
    source        TEXT    NOT NULL,
    commit_sha    TEXT    NOT NULL,
    outcome       TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'rolled_back')),
    started_at    INTEGER,
    finished_at   INTEGER NOT NULL
);
CREATE INDEX dora_deployments_window ON dora_deployments (project_id, service, environment, finished_at);

-- The commits a deployment brought: reachable from its commit and not from the previous
-- deployment's of the unit; `committed_at` is the committer date (milliseconds). The unit is
-- repeated so "which deployment first brought this commit" is one index lookup.
CREATE TABLE dora_commits (
    dora_deployment_id INTEGER NOT NULL REFERENCES dora_deployments (id) ON DELETE CASCADE,
    project_id         INTEGER NOT NULL,
    service            TEXT    NOT NULL,
    environment        TEXT    NOT NULL,
    sha                TEXT    NOT NULL,
    committed_at       INTEGER NOT NULL,
    PRIMARY KEY (dora_deployment_id, sha)
);
CREATE INDEX dora_commits_sha ON dora_commits (project_id, service, environment, sha);

-- An incident of a unit: when service degraded and when it was restored (NULL: open), what
-- caused it when known (a deployment in `deployments`, or a commit), and who opened it
-- (`auto` for a rollback or a failure after reaching users, `import`, or a token's name).
CREATE TABLE incidents (
    id                   INTEGER PRIMARY KEY,
    project_id           INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service              TEXT    NOT NULL,
    environment          TEXT    NOT NULL,
    title                TEXT    NOT NULL,
    started_at           INTEGER NOT NULL,
    resolved_at          INTEGER,
    caused_by_deployment INTEGER REFERENCES deployments (id) ON DELETE SET NULL,
    caused_by_commit     TEXT,
    opened_by            TEXT    NOT NULL
);
CREATE INDEX incidents_unit ON incidents (project_id, service, environment, started_at);
CREATE INDEX incidents_open ON incidents (project_id, resolved_at);
