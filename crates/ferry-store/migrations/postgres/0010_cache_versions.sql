-- Cache entries carry a version (postgres), as GitHub's cache service keeps them:
-- `@actions/cache` sends a hash of the entry's paths and compression with every lookup and
-- save, and an entry is unique per scope, key and version, so one key saved with other paths
-- is another entry. The built-in `actions/cache` saves folders, not archives, under the
-- version '' of its own.
ALTER TABLE cache_entries ADD COLUMN version TEXT NOT NULL DEFAULT '';
ALTER TABLE cache_entries DROP CONSTRAINT cache_entries_project_id_scope_cache_key_key;
ALTER TABLE cache_entries ADD CONSTRAINT cache_entries_project_id_scope_cache_key_version_key
    UNIQUE (project_id, scope, cache_key, version);
