-- Cache entries are scoped by the ref they were saved under (sqlite), as GitHub scopes them:
-- a run restores entries of its own ref and of the default branch (and, for a pull request,
-- of its base branch), and a key is unique per scope, not per project.
--
-- SQLite cannot drop the old UNIQUE (project_id, cache_key), so the table is rebuilt. Entries
-- saved before scopes existed were visible to every run; they become the default branch's,
-- which every run still restores from.
CREATE TABLE cache_entries_scoped (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- The full ref of the run that saved it: `refs/heads/main`, `refs/pull/7/merge`.
    scope      TEXT    NOT NULL,
    cache_key  TEXT    NOT NULL,
    digest     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (project_id, scope, cache_key)
);
INSERT INTO cache_entries_scoped
    (id, project_id, scope, cache_key, digest, size, run_id, job_id, created_at, expires_at)
SELECT cache_entries.id, cache_entries.project_id, 'refs/heads/' || projects.branch, cache_entries.cache_key,
       cache_entries.digest, cache_entries.size, cache_entries.run_id, cache_entries.job_id,
       cache_entries.created_at, cache_entries.expires_at
FROM cache_entries JOIN projects ON projects.id = cache_entries.project_id;
DROP TABLE cache_entries;
ALTER TABLE cache_entries_scoped RENAME TO cache_entries;
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);
