-- Cache entries are scoped by the ref they were saved under (postgres), as GitHub scopes
-- them: a run restores entries of its own ref and of the default branch (and, for a pull
-- request, of its base branch), and a key is unique per scope, not per project.

-- The full ref of the run that saved it: `refs/heads/main`, `refs/pull/7/merge`.
ALTER TABLE cache_entries ADD COLUMN scope TEXT NOT NULL DEFAULT '';
-- Entries saved before scopes existed were visible to every run; they become the default
-- branch's, which every run still restores from.
UPDATE cache_entries SET scope = 'refs/heads/' || projects.branch
FROM projects WHERE projects.id = cache_entries.project_id;
ALTER TABLE cache_entries ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE cache_entries DROP CONSTRAINT cache_entries_project_id_cache_key_key;
ALTER TABLE cache_entries ADD CONSTRAINT cache_entries_project_id_scope_cache_key_key
    UNIQUE (project_id, scope, cache_key);
