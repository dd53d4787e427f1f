-- The forge a project's repository lives on (postgres): the last verified webhook says which
-- ('github', 'gitea', 'forgejo', 'gitlab'; '' until one came) and its web address, so runs no
-- webhook started (dispatch, poll, schedule) get that forge's `github.api_url` too.
ALTER TABLE projects ADD COLUMN forge TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN forge_url TEXT NOT NULL DEFAULT '';
