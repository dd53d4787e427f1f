-- A run keeps its workflow's name (`name:`, else the file's path) (sqlite), so run lists need not
-- parse each run's workflow text to show it. Runs recorded before have '' and are named from
-- their workflow text when shown.
ALTER TABLE runs ADD COLUMN workflow_name TEXT NOT NULL DEFAULT '';
