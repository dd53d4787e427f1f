-- Running pipelines on the server (sqlite): what a run was planned from, how each job was
-- expanded, each job instance's contexts and outputs, and runner-protocol bookkeeping.

-- A run keeps the workflow text it was planned from, so a restart replays the same plan.
ALTER TABLE runs ADD COLUMN workflow_src TEXT NOT NULL DEFAULT '';
-- The commit's subject and author, for lists.
ALTER TABLE runs ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN author TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
-- Why a run concluded without running (its workflow does not parse, the commit is gone).
ALTER TABLE runs ADD COLUMN error TEXT;
-- A re-run points at the run it repeats.
ALTER TABLE runs ADD COLUMN rerun_of INTEGER;

-- A job row is one instance of a workflow job: its id in the workflow and its place among
-- the instances of its matrix.
ALTER TABLE jobs ADD COLUMN job_key TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN instance_idx INTEGER NOT NULL DEFAULT 0;
-- The fixed contexts the job sees (github, inputs, vars, needs, matrix, strategy), as JSON;
-- secrets are not among them: runners receive those when they claim the job.
ALTER TABLE jobs ADD COLUMN contexts TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN outputs TEXT NOT NULL DEFAULT '{}';
-- Why the job failed outside its steps ("runner lost", a workspace that could not be made).
ALTER TABLE jobs ADD COLUMN reason TEXT;
-- The last event batch applied from the runner; a repeated batch is not applied twice.
ALTER TABLE jobs ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX jobs_instance ON jobs (run_id, job_key, instance_idx) WHERE job_key <> '';

-- How each ready job of a run was expanded (skipped, concluded, or its instances), once.
CREATE TABLE run_expansions (
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_key    TEXT    NOT NULL,
    expansion  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, job_key)
);

-- Polling and schedules: the last commit seen on the branch, the last minute schedules fired.
ALTER TABLE projects ADD COLUMN polled_sha TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN schedule_checked_at INTEGER;
