-- Cache entries carry a version (sqlite), as GitHub's cache service keeps them: `@actions/cache`
-- sends a hash of the entry's paths and compression with every lookup and save, and an entry
-- is unique per scope, key and version, so one key saved with other paths is another entry.
-- The built-in `actions/cache` saves folders, not archives, under the version '' of its own.
--
-- SQLite cannot change the UNIQUE (project_id, scope, cache_key), so the table is rebuilt.
CREATE TABLE cache_entries_versioned (
    id         INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- The full ref of the run that saved it: `refs/heads/main`, `refs/pull/7/merge`.
    scope      TEXT    NOT NULL,
    cache_key  TEXT    NOT NULL,
    -- '' for the built-in `actions/cache`'s folders, else the toolkit's version hash.
    version    TEXT    NOT NULL DEFAULT '',
    digest     TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    run_id     INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    job_id     INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    UNIQUE (project_id, scope, cache_key, version)
);
INSERT INTO cache_entries_versioned
    (id, project_id, scope, cache_key, version, digest, size, run_id, job_id, created_at, expires_at)
SELECT id, project_id, scope, cache_key, '', digest, size, run_id, job_id, created_at, expires_at
FROM cache_entries;
DROP TABLE cache_entries;
ALTER TABLE cache_entries_versioned RENAME TO cache_entries;
CREATE INDEX cache_entries_expiry ON cache_entries (expires_at);
