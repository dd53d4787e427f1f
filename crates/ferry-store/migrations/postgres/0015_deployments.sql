-- Continuous delivery, the server's side (postgres): agents (one per host, by token), the
-- deployments of a service's releases to its environments with their gates and outcome, and
-- what agents tell about the services they run (events, output).

-- An agent dials the server with its token (`ferrya_<prefix>_<secret>`; only the prefix and
-- the SHA-256 of the secret are kept). `generation` counts the changes of its desired state;
-- `report` is the last `AgentReport`'s units (JSON), so `ferry status` survives a restart.
CREATE TABLE agents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    labels       TEXT    NOT NULL,
    token_prefix TEXT    NOT NULL UNIQUE,
    token_hash   TEXT    NOT NULL,
    hostname     TEXT,
    version      TEXT,
    docker       BIGINT  NOT NULL DEFAULT 0,
    generation   BIGINT  NOT NULL DEFAULT 0,
    report       TEXT    NOT NULL DEFAULT '[]',
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT,
    revoked_at   BIGINT
);

-- A deployment of release `release` (its number within the service) of `service` to
-- `environment`, on agent `agent_id`. `target` is what the deployment runs, resolved from the
-- release's deploy.yml when it was created (JSON), so everything after creation is computed
-- from this row. `gates`, `approvals`, `steps`, `analysis` and `commits` are JSON.
CREATE TABLE deployments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service      TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    release      BIGINT  NOT NULL,
    strategy     TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'waiting', 'in_progress', 'succeeded',
                                                    'rolled_back', 'failed', 'cancelled')),
    reason       TEXT,
    triggered_by TEXT    NOT NULL,
    rollback_of  BIGINT  REFERENCES deployments (id) ON DELETE SET NULL,
    is_rollback  BIGINT  NOT NULL DEFAULT 0,
    agent_id     BIGINT  REFERENCES agents (id) ON DELETE SET NULL,
    author       TEXT    NOT NULL DEFAULT '',
    commits      TEXT    NOT NULL DEFAULT '[]',
    gates        TEXT    NOT NULL DEFAULT '[]',
    approvals    TEXT    NOT NULL DEFAULT '[]',
    steps        TEXT    NOT NULL DEFAULT '[]',
    analysis     TEXT,
    target       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX deployments_unit ON deployments (project_id, service, environment, id);
CREATE INDEX deployments_status ON deployments (status, id);
CREATE INDEX deployments_agent ON deployments (agent_id, status);

-- What happened to a service in an environment (drift, crashes, health changes, errors).
CREATE TABLE service_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    agent_id    BIGINT  REFERENCES agents (id) ON DELETE SET NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL
);
CREATE INDEX service_events_unit ON service_events (project_id, service, environment, id);

-- Lines the replicas of a service wrote, newest kept up to a cap per unit.
CREATE TABLE service_logs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  BIGINT  NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    replica     TEXT    NOT NULL,
    release     BIGINT  NOT NULL,
    stream      TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    text        TEXT    NOT NULL
);
CREATE INDEX service_logs_unit ON service_logs (project_id, service, environment, id);
