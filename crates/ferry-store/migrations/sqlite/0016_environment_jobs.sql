-- Workflow jobs with `environment:` (sqlite). A job that targets an environment is recorded
-- as a deployment of it: `release` becomes optional (a job deploys no release), `job_id` and
-- `run_id` say which job and run it was, `commit_sha` which commit went there (also kept for
-- services' deployments, from their release, so every deployment says what it shipped), and
-- `url` where it can be seen (the job's `environment.url`). SQLite cannot drop a NOT NULL, so
-- the table is rebuilt with the same rows.
ALTER TABLE deployments RENAME TO deployments_0015;

CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    release      INTEGER,
    strategy     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'waiting', 'in_progress', 'succeeded',
                                                    'rolled_back', 'failed', 'cancelled')),
    reason       TEXT,
    triggered_by TEXT    NOT NULL,
    rollback_of  INTEGER REFERENCES deployments (id) ON DELETE SET NULL,
    is_rollback  INTEGER NOT NULL DEFAULT 0,
    agent_id     INTEGER REFERENCES agents (id) ON DELETE SET NULL,
    author       TEXT    NOT NULL DEFAULT '',
    commits      TEXT    NOT NULL DEFAULT '[]',
    gates        TEXT    NOT NULL DEFAULT '[]',
    approvals    TEXT    NOT NULL DEFAULT '[]',
    steps        TEXT    NOT NULL DEFAULT '[]',
    analysis     TEXT,
    target       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    job_id       INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    run_id       INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    commit_sha   TEXT,
    url          TEXT
);

INSERT INTO deployments (id, project_id, service, environment, release, strategy, status, reason, triggered_by,
                         rollback_of, is_rollback, agent_id, author, commits, gates, approvals, steps, analysis,
                         target, created_at, started_at, finished_at, commit_sha)
SELECT old.id, old.project_id, old.service, old.environment, old.release, old.strategy, old.status, old.reason,
       old.triggered_by, old.rollback_of, old.is_rollback, old.agent_id, old.author, old.commits, old.gates,
       old.approvals, old.steps, old.analysis, old.target, old.created_at, old.started_at, old.finished_at,
       (SELECT release.commit_sha FROM releases release
        WHERE release.project_id = old.project_id AND release.service = old.service AND release.number = old.release)
FROM deployments_0015 old;

DROP TABLE deployments_0015;

CREATE INDEX deployments_unit ON deployments (project_id, service, environment, id);
CREATE INDEX deployments_status ON deployments (status, id);
CREATE INDEX deployments_agent ON deployments (agent_id, status);
CREATE INDEX deployments_job ON deployments (job_id);
CREATE INDEX deployments_run ON deployments (run_id);

-- A job held at its environment's gates is `queued` with `waiting_for` saying what it waits
-- for; runners do not claim it until the gates pass and it is cleared. It reads as `waiting`.
ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
