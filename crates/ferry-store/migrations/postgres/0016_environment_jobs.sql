-- Workflow jobs with `environment:` (postgres). A job that targets an environment is recorded
-- as a deployment of it: `release` becomes optional (a job deploys no release), `job_id` and
-- `run_id` say which job and run it was, `commit_sha` which commit went there (also kept for
-- services' deployments, from their release, so every deployment says what it shipped), and
-- `url` where it can be seen (the job's `environment.url`).
ALTER TABLE deployments ALTER COLUMN release DROP NOT NULL;
ALTER TABLE deployments ADD COLUMN job_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL;
ALTER TABLE deployments ADD COLUMN run_id BIGINT REFERENCES runs (id) ON DELETE SET NULL;
ALTER TABLE deployments ADD COLUMN commit_sha TEXT;
ALTER TABLE deployments ADD COLUMN url TEXT;
UPDATE deployments SET commit_sha = (
    SELECT release.commit_sha FROM releases release
    WHERE release.project_id = deployments.project_id AND release.service = deployments.service
      AND release.number = deployments.release
);
CREATE INDEX deployments_job ON deployments (job_id);
CREATE INDEX deployments_run ON deployments (run_id);

-- A job held at its environment's gates is `queued` with `waiting_for` saying what it waits
-- for; runners do not claim it until the gates pass and it is cleared. It reads as `waiting`.
ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
