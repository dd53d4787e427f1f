-- Webhooks from strangers (sqlite).
--
-- A run started by a pull request from a fork (its head repository is not its base
-- repository) remembers it: its jobs get no secrets and may write nothing other runs read.
-- A re-run keeps the mark of the run it repeats (`Runs::create`).
ALTER TABLE runs ADD COLUMN from_fork INTEGER NOT NULL DEFAULT 0;
-- Whether a fork's run waits for a developer's approval: '' (it need not), 'waiting' (it
-- plans no job; the store reads its status as `waiting` while it is queued) or 'approved'
-- (by `approved_by`). The status column keeps its three values, whose CHECK SQLite cannot
-- change without rebuilding the table.
ALTER TABLE runs ADD COLUMN approval TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
-- Runs of pull requests from forks wait for a developer's approval (1) or start at once (0).
ALTER TABLE projects ADD COLUMN require_approval INTEGER NOT NULL DEFAULT 0;

-- Delivery ids a project's webhooks came with (`X-GitHub-Delivery`, `X-Gitea-Delivery`,
-- `X-Gitlab-Event-UUID`), kept a day so a delivery sent again starts nothing.
CREATE TABLE webhook_deliveries (
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    delivery    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, delivery)
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
