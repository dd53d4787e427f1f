-- An environment whose `hosts:` match several agents runs on each of them (postgres): one row per
-- deployment and agent, with what that agent reported of it (its steps and analysis figures
-- as JSON, its own outcome and reason). The deployment is over once every host is; a failure
-- on one host rolls every host back. `deployments.agent_id` stays the first host.
CREATE TABLE deployment_hosts (
    deployment_id BIGINT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    agent_id      BIGINT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    status        TEXT    NOT NULL DEFAULT 'in_progress'
                  CHECK (status IN ('in_progress', 'succeeded', 'rolled_back', 'failed', 'cancelled')),
    reason        TEXT,
    steps         TEXT    NOT NULL DEFAULT '[]',
    analysis      TEXT,
    finished_at   BIGINT,
    PRIMARY KEY (deployment_id, agent_id)
);
CREATE INDEX deployment_hosts_agent ON deployment_hosts (agent_id, deployment_id);

-- Every deployment placed on an agent so far ran on that one agent.
INSERT INTO deployment_hosts (deployment_id, agent_id, status, reason, steps, analysis, finished_at)
SELECT id, agent_id,
       CASE WHEN status IN ('succeeded', 'rolled_back', 'failed', 'cancelled') THEN status ELSE 'in_progress' END,
       CASE WHEN status IN ('succeeded', 'rolled_back', 'failed', 'cancelled') THEN reason END,
       steps, analysis, finished_at
FROM deployments WHERE agent_id IS NOT NULL;
