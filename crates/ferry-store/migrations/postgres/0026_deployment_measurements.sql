-- The server's measurements of a deployment's `analysis.queries` (JSON: per query its phase,
-- counts and latest measurements), written each time a query is measured.
ALTER TABLE deployments ADD COLUMN measurements TEXT;
