-- Run lists filtered by workflow file or by ref (sqlite) read only the matching runs of the
-- project, newest first, instead of every run of the project.
CREATE INDEX runs_project_workflow ON runs (project_id, workflow_file, number);
CREATE INDEX runs_project_ref ON runs (project_id, git_ref, number);
