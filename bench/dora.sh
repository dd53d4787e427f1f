#!/bin/sh
# The DORA report over a store holding 1 million deployments and 10 million commits, on SQLite
# and on PostgreSQL (issue 16: under 100 ms per query). The store: 100 units (10 services x 10
# environments) of 10 000 deployments each, one every ~2.6 hours over three years, each
# bringing 10 commits; one deployment in 20 failed; an incident after one deployment in 25
# (some naming a commit). For each backend it
#   1. starts `ferry server` once on an empty database so that it creates its schema, stops it,
#      and fills the DORA tables with SQL (one transaction per table, indexes built afterwards);
#   2. times the four SQL queries `ferry-store`'s `Dora::history` makes for one unit's 30-day
#      window at the end of its history (sqlite3's `.timer`, psql's `\timing`);
#   3. starts `ferry server` on that store and times whole reports through the API (store
#      queries, decoding, `ferry_dora`, JSON, HTTP on loopback) with curl: one service's
#      (`?service=svc3&environment=env0`) and the project's (`?environment=env0`: 10 services).
# Each timing runs ROUNDS times (default 5; the first is cold). PostgreSQL is started from
# Debian's binaries in the work directory and stopped and removed at the end.
#
#   sh bench/dora.sh        # needs sqlite3, curl, Debian's postgresql, runuser (as root) and
#                           # a built ferry: FERRY_BIN, default $CARGO_TARGET_DIR/debug/ferry
#   WORK=/var/tmp/dora sh bench/dora.sh   # keeps the stores there and reuses them next time
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${FERRY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/ferry}
ROUNDS=${ROUNDS:-5}
KEEP=${WORK:+yes}
WORK=${WORK:-$(mktemp -d /var/tmp/ferry-dora-bench.XXXXXX)}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA=$WORK/pg
SERVER_PID=
PG_STARTED=
[ -x "$FERRY" ] || { echo "no ferry binary at $FERRY: build it (cargo build) or set FERRY_BIN" >&2; exit 2; }
mkdir -p "$WORK"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}

cleanup() {
  stop_server
  if [ -n "$PG_STARTED" ]; then as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true; fi
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server DATA_DIR [DATABASE_URL]: sets URL and TOKEN.
start_server() {
  log=$1.log
  "$FERRY" server --data-dir "$1" ${2:+--database "$2"} --listen 127.0.0.1:0 --no-agent --runner-slots 0 \
    --poll-interval 0 >"$log" 2>&1 &
  SERVER_PID=$!
  tries=0
  until grep -q '^ferry server listening on ' "$log"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "ferry server did not start:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  URL=$(sed -n 's/^ferry server listening on //p' "$log")
  TOKEN=$(cat "$1/admin.token")
}

# report_times UNTIL: the API's report of one service and of the project, ROUNDS times each.
report_times() {
  for scope in "service=svc3&environment=env0" "environment=env0"; do
    path="/api/v1/projects/bench/dora?$scope&window=30d&until=$1"
    body=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL$path")
    echo "  GET $path"
    case $body in
      *'"change_failure_rate"'*) ;;
      *) echo "    refused: $body"; continue ;;
    esac
    echo "    $(echo "$body" | grep -o '"change_failure_rate":{[^}]*}') $(echo "$body" | grep -o '"lead_time":{"commits":[0-9]*')"
    times=""
    round=1
    while [ "$round" -le "$ROUNDS" ]; do
      times="$times $(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$URL$path")"
      round=$((round + 1))
    done
    echo "    seconds per report:$times"
  done
}

# until_of MS: the RFC 3339 second just after a time in milliseconds.
until_of() {
  date -u -d "@$(($1 / 1000 + 1))" +%Y-%m-%dT%H:%M:%SZ
}

echo "ferry: $FERRY"
echo "work directory: $WORK"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- SQLite
DB=$WORK/sqlite/ferry.db
if [ ! -e "$WORK/sqlite/filled" ]; then
  rm -rf "$WORK/sqlite"
  start_server "$WORK/sqlite"
  stop_server
  started=$(date +%s)
  commits_index=$(sqlite3 "$DB" "SELECT sql FROM sqlite_master WHERE name = 'dora_commits_sha';")
  sqlite3 "$DB" <<SQL
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
INSERT INTO projects (id, name, repo, branch, webhook_secret, created_at)
VALUES (1, 'bench', '/nonexistent/bench.git', 'main', 'bench', 0);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
INSERT INTO dora_deployments (id, project_id, service, environment, deployment_id, source, commit_sha, outcome,
                              started_at, finished_at)
SELECT i + 1, 1, 'svc' || (i % 10), 'env' || ((i / 10) % 10), NULL, 'import', printf('%040x', i),
       CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       1700000000000 + (i / 100) * 9460800 - 600000, 1700000000000 + (i / 100) * 9460800
FROM n;
COMMIT;
DROP INDEX dora_commits_sha;
BEGIN;
WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 9)
INSERT INTO dora_commits (dora_deployment_id, project_id, service, environment, sha, committed_at)
SELECT d.id, 1, d.service, d.environment, printf('%032x%08x', d.id, k.j), d.finished_at - 3600000 * (k.j + 1)
FROM dora_deployments d, k ORDER BY d.id, k.j;
COMMIT;
$commits_index;
BEGIN;
INSERT INTO incidents (project_id, service, environment, title, started_at, resolved_at, caused_by_deployment,
                       caused_by_commit, opened_by)
SELECT 1, service, environment, 'bench', finished_at + 60000, finished_at + 1800000, NULL,
       CASE WHEN id % 100 IN (0, 4) THEN printf('%032x%08x', id, 3) END, 'import'
FROM dora_deployments WHERE id % 50 IN (0, 4);
COMMIT;
ANALYZE;
SQL
  echo "SQLite store filled in $(($(date +%s) - started)) s"
  touch "$WORK/sqlite/filled"
fi
echo
echo "== SQLite $(sqlite3 --version | cut -d' ' -f1)"
sqlite3 "$DB" "SELECT (SELECT count(*) FROM dora_deployments) || ' deployments, ' || (SELECT count(*) FROM dora_commits) || ' commits, ' || (SELECT count(*) FROM incidents) || ' incidents';"
TO=$(sqlite3 "$DB" "SELECT max(finished_at) + 1 FROM dora_deployments WHERE service = 'svc3' AND environment = 'env0';")
UNTIL=$(until_of "$TO")
TO=$(($(date -u -d "$UNTIL" +%s) * 1000))
FROM=$((TO - 30 * 86400000))
UNIT="project_id = 1 AND service = 'svc3' AND environment = 'env0'"
WINDOW_COMMITS="SELECT c.sha FROM dora_commits c JOIN dora_deployments d ON d.id = c.dora_deployment_id
  WHERE d.project_id = 1 AND d.service = 'svc3' AND d.environment = 'env0' AND d.finished_at >= $FROM AND d.finished_at < $TO"
QUERIES="SELECT count(*) FROM (SELECT id, deployment_id, source, commit_sha, outcome, started_at, finished_at
  FROM dora_deployments WHERE $UNIT AND finished_at >= $FROM AND finished_at < $TO) AS q;
SELECT count(*) FROM ($WINDOW_COMMITS) AS q;
SELECT count(*) FROM (SELECT c2.dora_deployment_id, d2.finished_at, c2.sha, c2.committed_at
  FROM dora_commits c2 JOIN dora_deployments d2 ON d2.id = c2.dora_deployment_id
  WHERE c2.project_id = 1 AND c2.service = 'svc3' AND c2.environment = 'env0' AND d2.finished_at < $FROM
    AND d2.outcome = 'succeeded' AND c2.sha IN ($WINDOW_COMMITS)) AS q;
SELECT count(*) FROM (SELECT i.id FROM incidents i LEFT JOIN dora_deployments d ON d.deployment_id = i.caused_by_deployment
  WHERE i.project_id = 1 AND i.service = 'svc3' AND i.environment = 'env0' AND i.started_at < $TO AND (i.resolved_at IS NULL OR i.resolved_at >= $FROM - 600000)) AS q;"
echo "the four queries of one unit's window (rows, then time), $ROUNDS rounds:"
round=1
while [ "$round" -le "$ROUNDS" ]; do
  printf '.timer on\n%s\n' "$QUERIES" | sqlite3 "$DB" | grep -v '^$' | paste -sd' ' | sed 's/^/  /'
  round=$((round + 1))
done
start_server "$WORK/sqlite"
report_times "$UNTIL"
stop_server

# ---------------------------------------------------------------- PostgreSQL
if [ ! -e "$WORK/pg-filled" ]; then
  rm -rf "$PGDATA"
  mkdir -p "$PGDATA"
  if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA" "$WORK"; fi
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
fi
PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg.log" -w -o \
  "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDATA -c fsync=off -c shared_buffers=1GB -c maintenance_work_mem=1GB -c work_mem=64MB" \
  start >/dev/null
PG_STARTED=yes
PSQL="psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $PGPORT -U postgres"
DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/ferry"
if [ ! -e "$WORK/pg-filled" ]; then
  $PSQL -d postgres -c "CREATE DATABASE ferry"
  mkdir -p "$WORK/pg-server"
  start_server "$WORK/pg-server" "$DATABASE_URL"
  stop_server
  started=$(date +%s)
  $PSQL -d ferry <<'SQL'
SET synchronous_commit = off;
-- No foreign-key triggers while filling: every row refers to rows inserted just before.
SET session_replication_role = replica;
INSERT INTO projects (id, name, repo, branch, webhook_secret, created_at) OVERRIDING SYSTEM VALUE
VALUES (1, 'bench', '/nonexistent/bench.git', 'main', 'bench', 0);
INSERT INTO dora_deployments (id, project_id, service, environment, deployment_id, source, commit_sha, outcome,
                              started_at, finished_at) OVERRIDING SYSTEM VALUE
SELECT i + 1, 1, 'svc' || (i % 10), 'env' || ((i / 10) % 10), NULL, 'import', lpad(to_hex(i), 40, '0'),
       CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END,
       1700000000000 + (i / 100) * 9460800::bigint - 600000, 1700000000000 + (i / 100) * 9460800::bigint
FROM generate_series(0, 999999) AS n(i);
SELECT pg_get_indexdef('dora_commits_sha'::regclass) AS commits_index \gset
DROP INDEX dora_commits_sha;
ALTER TABLE dora_commits DROP CONSTRAINT dora_commits_pkey;
INSERT INTO dora_commits (dora_deployment_id, project_id, service, environment, sha, committed_at)
SELECT d.id, 1, d.service, d.environment, lpad(to_hex(d.id), 32, '0') || lpad(to_hex(k.j), 8, '0'),
       d.finished_at - 3600000 * (k.j + 1)
FROM dora_deployments d, generate_series(0, 9) AS k(j);
ALTER TABLE dora_commits ADD PRIMARY KEY (dora_deployment_id, sha);
:commits_index;
INSERT INTO incidents (project_id, service, environment, title, started_at, resolved_at, caused_by_deployment,
                       caused_by_commit, opened_by)
SELECT 1, service, environment, 'bench', finished_at + 60000, finished_at + 1800000, NULL,
       CASE WHEN id % 100 IN (0, 4) THEN lpad(to_hex(id), 32, '0') || lpad(to_hex(3), 8, '0') END, 'import'
FROM dora_deployments WHERE id % 50 IN (0, 4);
VACUUM ANALYZE;
SQL
  echo "PostgreSQL store filled in $(($(date +%s) - started)) s"
  touch "$WORK/pg-filled"
fi
echo
echo "== PostgreSQL $($PSQL -d ferry -At -c 'SHOW server_version')"
$PSQL -d ferry -At -c "SELECT (SELECT count(*) FROM dora_deployments) || ' deployments, ' || (SELECT count(*) FROM dora_commits) || ' commits, ' || (SELECT count(*) FROM incidents) || ' incidents'"
echo "the four queries of one unit's window (rows, then time), $ROUNDS rounds:"
round=1
while [ "$round" -le "$ROUNDS" ]; do
  printf '\\timing on\n%s\n' "$QUERIES" | $PSQL -d ferry -At | paste -sd' ' | sed 's/^/  /'
  round=$((round + 1))
done
start_server "$WORK/pg-server" "$DATABASE_URL"
report_times "$UNTIL"
stop_server
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
