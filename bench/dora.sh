#!/bin/sh
# The SQL of one `ferry dora` report (ferry-store's `Dora::history`) over a SQLite store
# holding 1 million deployments and 10 million commits: 100 units (10 services x 10
# environments) of 10 000 deployments each, one every ~2.6 hours over three years, each
# bringing 10 commits; one incident every 50 deployments. Prints the time of each query of a
# 30-day window at the end of the history, run three times (the last two warm).
#
#   sh bench/dora.sh [DB]      # DB defaults to a temporary file; needs sqlite3
#
# Only SQLite and only the SQL: the PostgreSQL figure and the Rust side (decoding rows,
# ferry_dora::report) are not measured here yet (see BENCHMARKS.md).
set -eu
DB=${1:-$(mktemp -d)/dora-bench.db}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -s "$DB" ]; then
  sqlite3 "$DB" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
CREATE TABLE projects (id INTEGER PRIMARY KEY);
CREATE TABLE deployments (id INTEGER PRIMARY KEY);
INSERT INTO projects (id) VALUES (1);
.read $ROOT/crates/ferry-store/migrations/sqlite/0017_dora.sql
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
INSERT INTO dora_deployments (id, project_id, service, environment, deployment_id, source, commit_sha, outcome,
                              started_at, finished_at)
SELECT i + 1, 1, 'svc' || (i % 10), 'env' || ((i / 10) % 10), NULL, 'import', printf('%040x', i),
       CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       1700000000000 + (i / 100) * 9460800 - 600000, 1700000000000 + (i / 100) * 9460800
FROM n;
COMMIT;
BEGIN;
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 9)
INSERT INTO dora_commits (dora_deployment_id, project_id, service, environment, sha, committed_at)
SELECT d.id, 1, d.service, d.environment, printf('%032x%08x', d.id, k.j), d.finished_at - 3600000 * (k.j + 1)
FROM dora_deployments d, k;
COMMIT;
BEGIN;
INSERT INTO incidents (project_id, service, environment, title, started_at, resolved_at, caused_by_deployment,
                       caused_by_commit, opened_by)
SELECT 1, service, environment, 'bench', finished_at + 60000, finished_at + 1800000, NULL,
       CASE WHEN id % 100 IN (0, 4) THEN printf('%032x%08x', id, 3) END, 'import'
FROM dora_deployments WHERE id % 50 IN (0, 4);
COMMIT;
ANALYZE;
SQL
fi
echo "store: $DB"
sqlite3 "$DB" "SELECT (SELECT count(*) FROM dora_deployments) AS deployments, (SELECT count(*) FROM dora_commits) AS commits;"
TO=$(sqlite3 "$DB" "SELECT max(finished_at) + 1 FROM dora_deployments WHERE service = 'svc3' AND environment = 'env0';")
FROM=$((TO - 30 * 86400000))
UNIT="project_id = 1 AND service = 'svc3' AND environment = 'env0'"
for round in 1 2 3; do
  echo "round $round"
  sqlite3 "$DB" <<SQL
.timer on
SELECT count(*) FROM (SELECT id, deployment_id, source, commit_sha, outcome, started_at, finished_at FROM dora_deployments
  WHERE $UNIT AND finished_at >= $FROM AND finished_at < $TO);
SELECT count(*) FROM (SELECT c.dora_deployment_id, c.sha, c.committed_at FROM dora_commits c
  JOIN dora_deployments d ON d.id = c.dora_deployment_id
  WHERE d.project_id = 1 AND d.service = 'svc3' AND d.environment = 'env0' AND d.finished_at >= $FROM AND d.finished_at < $TO);
SELECT count(*) FROM (SELECT c2.dora_deployment_id, d2.finished_at, c2.sha, c2.committed_at
  FROM dora_commits c2 JOIN dora_deployments d2 ON d2.id = c2.dora_deployment_id
  WHERE c2.project_id = 1 AND c2.service = 'svc3' AND c2.environment = 'env0' AND d2.finished_at < $FROM
    AND d2.outcome = 'succeeded'
    AND c2.sha IN (SELECT c.sha FROM dora_commits c JOIN dora_deployments d ON d.id = c.dora_deployment_id
      WHERE d.project_id = 1 AND d.service = 'svc3' AND d.environment = 'env0' AND d.finished_at >= $FROM AND d.finished_at < $TO));
SELECT count(*) FROM (SELECT i.id FROM incidents i LEFT JOIN dora_deployments d ON d.deployment_id = i.caused_by_deployment
  WHERE i.project_id = 1 AND i.service = 'svc3' AND i.environment = 'env0' AND i.started_at < $TO
    AND (i.resolved_at IS NULL OR i.resolved_at >= $FROM - 600000));
SQL
done
