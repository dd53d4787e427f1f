#!/bin/sh
# What judging an SLO's error budget costs (issue 17): the queries of one proxy-availability
# SLO with a 30-day window over 30 days of the proxy's counters (2 series, a sample a
# minute: 86 400 samples), answered by
#   - Ferry's `GET /api/v1/projects/shop/slos` (reads deploy.yml from git, runs both queries),
#   - Ferry's `/prometheus/api/v1/query` with the window's query alone,
#   - Debian's Prometheus with the same query over the same samples (the baseline),
# each timed by hyperfine (warm-up 2, 10 runs).
#
#   sh bench/slo.sh [FERRY]     # FERRY: the ferry binary (default: a debug build in
#                               # $CARGO_TARGET_DIR or target/); needs prometheus, promtool,
#                               # hyperfine, curl, git
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FERRY=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/ferry}
WORK=$(mktemp -d)
PIDS=""
cleanup() { for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

NOW=$(date +%s)
LABELS='project="shop",service="web",environment="production",release="1"'
python3 - "$NOW" "$LABELS" > "$WORK/proxy.om" <<'PY'
import sys
now, labels = int(sys.argv[1]), sys.argv[2]
print("# TYPE ferry_proxy_requests counter")
minutes = 30 * 24 * 60
for minute in range(minutes + 1):
    at = now - (minutes - minute) * 60
    print(f'ferry_proxy_requests_total{{{labels},code_class="2xx"}} {999 * minute} {at}')
    print(f'ferry_proxy_requests_total{{{labels},code_class="5xx"}} {minute} {at}')
print("# EOF")
PY

# Ferry: a server, a project whose deploy.yml has the SLO, the samples imported.
mkdir -p "$WORK/repo/.ferry" "$WORK/ferry"
cat > "$WORK/repo/.ferry/deploy.yml" <<'YML'
environments: { production: { error-budget: hold } }
services:
  web:
    run: ./web
    deploy: { production: { port: 18200 } }
    slos:
      - { name: availability, objective: 99.9, sli: proxy-availability }
YML
git -C "$WORK/repo" init --quiet --initial-branch=main
git -C "$WORK/repo" add -A
git -C "$WORK/repo" -c user.name=bench -c user.email=bench@ferry.invalid commit --quiet -m slo
FERRY_PORT=18290
FERRY_NO_AGENT=1 "$FERRY" server --listen "127.0.0.1:$FERRY_PORT" --data-dir "$WORK/ferry/data" \
  > "$WORK/ferry/server.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$FERRY_PORT/healthz" > /dev/null && break; sleep 0.1; done
TOKEN=$(cat "$WORK/ferry/data/admin.token")
export FERRY_SERVER="http://127.0.0.1:$FERRY_PORT" FERRY_TOKEN="$TOKEN"
"$FERRY" project add shop --repo "$WORK/repo" > /dev/null
"$FERRY" metrics import "$WORK/proxy.om"

# Prometheus: the same samples as blocks, served from their folder.
promtool tsdb create-blocks-from openmetrics "$WORK/proxy.om" "$WORK/prometheus" > /dev/null
printf 'global: {}\n' > "$WORK/prometheus.yml"
PROM_PORT=18291
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --storage.tsdb.retention.time=60d --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" > /dev/null && break; sleep 0.2; done

SEL='project="shop",service="web",environment="production"'
QUERY="sum(rate(ferry_proxy_requests_total{$SEL,code_class=\"5xx\"}[30d]) or rate(ferry_proxy_unrouted_requests_total{$SEL}[30d])) / sum(rate(ferry_proxy_requests_total{$SEL}[30d]) or rate(ferry_proxy_unrouted_requests_total{$SEL}[30d]))"
ENCODED=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$QUERY")
echo "Ferry's answer:      $(curl -sf -H "Authorization: Bearer $TOKEN" "$FERRY_SERVER/api/v1/projects/shop/slos")"
echo "Ferry's PromQL:      $(curl -sf -H "Authorization: Bearer $TOKEN" "$FERRY_SERVER/prometheus/api/v1/query?query=$ENCODED&time=$NOW")"
echo "Prometheus' PromQL:  $(curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/query?query=$ENCODED&time=$NOW")"
hyperfine --warmup 2 --runs 10 -N \
  -n "ferry GET /slos" "curl -sf -H 'Authorization: Bearer $TOKEN' $FERRY_SERVER/api/v1/projects/shop/slos" \
  -n "ferry query (30d window)" "curl -sf -H 'Authorization: Bearer $TOKEN' $FERRY_SERVER/prometheus/api/v1/query?query=$ENCODED&time=$NOW" \
  -n "prometheus query (30d window)" "curl -sf http://127.0.0.1:$PROM_PORT/api/v1/query?query=$ENCODED&time=$NOW"
