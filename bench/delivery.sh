#!/usr/bin/env bash
# Benchmark: delivery under load (see BENCHMARKS.md, "Delivery", for the figures).
#
#     bench/delivery.sh                     # 3 rounds
#     ROUNDS=5 THREADS=8 bench/delivery.sh
#     FERRY_BIN=/path/to/ferry bench/delivery.sh      # a binary built elsewhere; nothing is built
#
# On loopback, in a temporary folder removed on exit: `ferry server --no-agent` with its own
# data directory, one `ferry agent`, and a project `web` whose service `web` is a small Python
# HTTP/1.1 keep-alive server answering its release ("release N") on `/` and 200 on `/healthz`.
# The project has three environments, one per strategy, each with 2 replicas behind its own
# proxy port: `rolling`, `blue-green` and `canary` (two steps, 20 % and 50 %, 1 s pauses);
# health checks every 200 ms, healthy after 2; `verify: 1s`.
#
# Release 1 is deployed to each environment first (timed: `ferry deploy` on an empty
# environment). Then each round makes a new release and, while bench/loadgen.py (THREADS
# threads, default 4, one request after the other on keep-alive connections) keeps requesting
# through the environment's proxy, runs in turn:
#   rolling, blue-green, canary   `ferry deploy … --wait` of the new release
#   rollback                      `ferry rollback web web --env rolling --wait` (to the last
#                                 release that succeeded there before)
#   failed-canary                 a release whose health check fails (503), deployed to
#                                 `canary`: it must end rolled_back (start-timeout 4 s) with
#                                 no request lost
# For each: the requests sent and failed (target: none failed; every failure is listed), the
# time `ferry deploy --wait` took (to the recorded outcome, so including the strategy's pauses
# and `verify`), and the time from `ferry deploy` to the last answer of the old release (from
# then on the environment serves only the new one). Then the agent's memory: VmRSS and VmHWM
# after it has idled 5 s serving the three environments (6 replicas, 3 proxies, no traffic),
# and VmRSS of the agent before any deployment.
set -euo pipefail

rounds=${ROUNDS:-3}
threads=${THREADS:-4}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

for tool in git python3; do
    command -v "$tool" > /dev/null || { echo "delivery.sh: $tool is missing" >&2; exit 1; }
done
if [[ -n ${FERRY_BIN:-} ]]; then
    ferry=$FERRY_BIN
else
    (cd "$root" && cargo build --release --quiet -p ferry)
    ferry=$target/release/ferry
fi

tmp=$(mktemp -d -t ferry-bench-delivery-XXXXXX)
pids=()
cleanup() {
    # The agent first (it must not restart what is killed next), then every replica it
    # started (each leads its own process group), then the server.
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    if [[ -f $tmp/agent/state.json ]]; then
        for pid in $(python3 -c 'import json,sys; print(*[r["pid"] for r in json.load(open(sys.argv[1]))["replicas"]])' "$tmp/agent/state.json" 2> /dev/null); do
            kill -KILL -- "-$pid" 2> /dev/null || true
        done
    fi
    wait 2> /dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rolling_port=$(free_port)
blue_green_port=$(free_port)
canary_port=$(free_port)

# The project: a repository holding only .ferry/deploy.yml.
mkdir -p "$tmp/repo/.ferry"
cat > "$tmp/repo/.ferry/deploy.yml" << EOF
environments:
  rolling: { verify: 1s }
  blue-green: { verify: 1s }
  canary: { verify: 1s }
services:
  web:
    run: exec python3 server.py
    health: { http: /healthz, interval: 200ms, timeout: 1s, healthy-after: 2, unhealthy-after: 3, start-timeout: 4s }
    deploy:
      rolling: { port: $rolling_port, replicas: 2, strategy: rolling }
      blue-green: { port: $blue_green_port, replicas: 2, strategy: blue-green, keep-old: 2s }
      canary:
        port: $canary_port
        replicas: 2
        strategy: canary
        canary: { steps: [ { weight: 20, pause: 1s }, { weight: 50, pause: 1s } ] }
EOF
git_quiet() { git -C "$tmp/repo" -c user.name=bench -c user.email=bench@localhost "$@" > /dev/null; }
git_quiet init --quiet --initial-branch=main
git_quiet add -A
git_quiet commit --quiet -m "deploy.yml"

# release_dir N HEALTH: the files of a release answering "release N", /healthz with HEALTH.
release_dir() {
    local dir=$tmp/release-$1
    mkdir -p "$dir"
    cat > "$dir/server.py" << EOF
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        status, body = ($2, b"ok\n") if self.path == "/healthz" else (200, b"release $1\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
import os
Server(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
EOF
    echo "$dir"
}

export NO_COLOR=1 FERRY_LOG=${FERRY_LOG:-info}
unset FERRY_SERVER FERRY_TOKEN FERRY_CONFIG FERRY_DATABASE
"$ferry" server --no-agent --listen 127.0.0.1:0 --data-dir "$tmp/data" > "$tmp/server.out" 2> "$tmp/server.log" &
pids+=($!)
for _ in $(seq 300); do
    url=$(sed -n 's/^ferry server listening on //p' "$tmp/server.out")
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || { echo "delivery.sh: the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
token=$(cat "$tmp/data/admin.token")
client() { "$ferry" "$@" --server "$url" --token "$token"; }

client project add web --repo "$tmp/repo" > /dev/null
"$ferry" agent --server "$url" --token "$token" --name local --dir "$tmp/agent" 2> "$tmp/agent.log" &
agent_pid=$!
pids+=($agent_pid)

# rss PID: "VmRSS VmHWM" in kB.
rss() { awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { print rss, hwm }' "/proc/$1/status"; }
sleep 5
read -r empty_rss _ <<< "$(rss "$agent_pid")"

made=0
# new_release HEALTH: makes the next release, numbered $made.
new_release() {
    made=$((made + 1))
    client release create web web --dir "$(release_dir "$made" "$1")" > /dev/null
}

# A load generator on a coprocess: `load COMMAND` sends one command and prints its answer.
coproc LOAD { python3 "$root/bench/loadgen.py" "$threads"; }
pids+=($LOAD_PID)
load() {
    echo "$1" >&"${LOAD[1]}"
    local answer
    read -r answer <&"${LOAD[0]}"
    echo "$answer"
}

# deployment SCENARIO ROUND PORT OLD NEW COMMAND...: runs COMMAND under load through PORT and
# appends one JSON line of results (NEW: the release expected to serve at the end).
deployment() {
    local scenario=$1 round=$2 port=$3 old=$4 new=$5
    shift 5
    load "target http://127.0.0.1:$port/" > /dev/null
    local started ended out
    started=$(date +%s.%N)
    out=$("$@" --wait --json 2>> "$tmp/client.log" || true)
    ended=$(date +%s.%N)
    python3 - "$scenario" "$round" "$old" "$new" "$started" "$ended" "$out" "$(load report)" << 'EOF' >> "$tmp/results"
import json, sys
scenario, round_, old, new, started, ended, out, report = sys.argv[1:]
report = json.loads(report)
try:
    deployment = json.loads(out)
except ValueError:
    deployment = {"outcome": "no answer", "reason": out}
old_last = report["bodies"].get(f"release {old}", [None, None])[1]
print(json.dumps({
    "scenario": scenario, "round": int(round_), "outcome": deployment.get("outcome"),
    "reason": deployment.get("reason"), "wait_s": float(ended) - float(started),
    "old_last_s": old_last, "serves_new": f"release {new}" in report["bodies"],
    "sent": report["sent"], "failed": report["failed"], "failures": report["failures"],
}))
EOF
}

# Release 1 everywhere, no load: the time to deploy onto an empty environment.
new_release 200
first=$made
for env in rolling blue-green canary; do
    started=$(date +%s.%N)
    out=$(client deploy web web --env "$env" --release "$first" --wait --json || true)
    ended=$(date +%s.%N)
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(json.dumps({"scenario": "first", "env": sys.argv[2], "outcome": d["outcome"], "reason": d.get("reason"), "wait_s": float(sys.argv[4]) - float(sys.argv[3])}))' \
        "$out" "$env" "$started" "$ended" >> "$tmp/results"
done

echo "delivery.sh: $rounds rounds, $threads load threads; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
serving=$first
for ((round = 1; round <= rounds; round++)); do
    new_release 200
    release=$made
    deployment rolling "$round" "$rolling_port" "$serving" "$release" client deploy web web --env rolling --release "$release"
    deployment blue-green "$round" "$blue_green_port" "$serving" "$release" client deploy web web --env blue-green --release "$release"
    deployment canary "$round" "$canary_port" "$serving" "$release" client deploy web web --env canary --release "$release"
    deployment rollback "$round" "$rolling_port" "$release" "$serving" client rollback web web --env rolling --to "$serving"
    new_release 503
    broken=$made
    deployment failed-canary "$round" "$canary_port" "$release" "$release" client deploy web web --env canary --release "$broken"
    # The rolling environment goes back to the round's release, so every environment serves it.
    client deploy web web --env rolling --release "$release" --wait --json > /dev/null || true
    serving=$release
    echo "delivery.sh: round $round done" >&2
done
load quit > /dev/null || true

sleep 5
read -r idle_rss idle_hwm <<< "$(rss "$agent_pid")"

python3 - "$tmp/results" "$empty_rss" "$idle_rss" "$idle_hwm" << 'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
empty_rss, idle_rss, idle_hwm = (int(kb) / 1024 for kb in sys.argv[2:5])
def fmt(xs, digits=2):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"
print("| first deployment (empty environment) | outcome | `deploy --wait`, s |")
print("|---|---|---|")
for row in rows:
    if row["scenario"] == "first":
        print(f"| {row['env']} | {row['outcome']} | {row['wait_s']:.2f} |")
print()
expected = {"rolling": "succeeded", "blue-green": "succeeded", "canary": "succeeded", "rollback": "succeeded",
            "failed-canary": "rolled_back"}
print("| under load | outcomes | requests sent | failed | `deploy --wait`, s | deploy → last answer of the old release, s |")
print("|---|---|---|---|---|---|")
unexpected = []
for scenario, want in expected.items():
    runs = [row for row in rows if row["scenario"] == scenario]
    outcomes = sorted({row["outcome"] for row in runs})
    unexpected += [row for row in runs if row["outcome"] != want or not row["serves_new"]]
    old_last = "—" if scenario == "failed-canary" else fmt([row["old_last_s"] for row in runs])
    print(f"| {scenario} | {', '.join(map(str, outcomes))} | {sum(row['sent'] for row in runs)} "
          f"| {sum(row['failed'] for row in runs)} | {fmt([row['wait_s'] for row in runs])} | {old_last} |")
print()
print(f"agent memory: VmRSS {empty_rss:.1f} MiB before any deployment; after 5 s idle serving 3 environments "
      f"(6 replicas, 3 proxies): VmRSS {idle_rss:.1f} MiB, VmHWM {idle_hwm:.1f} MiB")
for row in rows:
    for failure in row.get("failures", []):
        print(f"failed: {row['scenario']} round {row['round']} at {failure['at']} s: {failure['reason']}")
for row in unexpected:
    print(f"unexpected: {row['scenario']} round {row['round']}: {row['outcome']} ({row['reason']})")
EOF
