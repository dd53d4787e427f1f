#!/usr/bin/env bash
# Benchmark: Ferry's reverse proxy (crates/ferry-proxy) against the backend hit directly and
# against nginx as the reverse proxy of the same backend, in the same run (see BENCHMARKS.md
# for the figures).
#
#     bench/proxy.sh                                    # 5 rounds, 10 s per measurement
#     ROUNDS=3 DURATION=5 CONNECTIONS=32 bench/proxy.sh
#     BEFORE=/path/to/proxy bench/proxy.sh                # also an earlier build of the example
#
# Needs wrk and nginx (Debian: `apt-get install wrk nginx-light`), curl and python3; builds
# the proxy's example binary (`examples/proxy.rs`) in release.
# - The backend: nginx with one worker answering `return 200` with a short text (as fast as a
#   backend gets, so what is measured is the proxies).
# - direct: wrk → the backend.
# - ferry:  wrk → `ferry-proxy` (examples/proxy.rs: a tokio runtime with one thread per core)
#           → the backend, pooled keep-alive connections.
# - before: (with BEFORE) the same with an earlier build of examples/proxy.rs, to show what a
#           change did in the same run.
# - nginx:  wrk → nginx (`worker_processes auto`, `upstream { keepalive 64; }`,
#           `proxy_http_version 1.1`, X-Forwarded-For added as Ferry does) → the backend.
# Two loads per round, each target in turn within the round (so drifting load on the shared
# machine falls on all three alike): throughput with CONNECTIONS keep-alive connections
# (default 32), and latency with one connection sending one request after the other (p50 and
# p99 there are the time a request costs, not queueing). Figures: the median over the rounds,
# with min and max, and the ratios to direct.
set -euo pipefail

rounds=${ROUNDS:-5}
duration=${DURATION:-10}
connections=${CONNECTIONS:-32}
backend_port=${BACKEND_PORT:-18481}
ferry_port=${FERRY_PORT:-18482}
nginx_port=${NGINX_PORT:-18483}
before_port=${BEFORE_PORT:-18484}
before=${BEFORE:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

for tool in wrk nginx curl python3; do
    command -v "$tool" > /dev/null || { echo "proxy.sh: $tool is missing (apt-get install wrk nginx-light curl)" >&2; exit 1; }
done

tmp=$(mktemp -d -t ferry-bench-proxy-XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && cargo build --release --quiet -p ferry-proxy --example proxy)

# nginx_conf NAME WORKERS HTTP_BLOCK: a configuration that keeps everything in $tmp/NAME.
nginx_conf() {
    local dir=$tmp/$1
    mkdir -p "$dir"
    cat > "$dir/nginx.conf" << EOF
worker_processes $2;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
$3
}
EOF
    echo "$dir/nginx.conf"
}

backend_conf=$(nginx_conf backend 1 "
    server {
        listen 127.0.0.1:$backend_port;
        location / { default_type text/plain; return 200 \"hello from the backend\n\"; }
    }")
proxy_conf=$(nginx_conf nginx auto "
    upstream backend { server 127.0.0.1:$backend_port; keepalive 64; }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }")

nginx -e "$tmp/backend/error.log" -c "$backend_conf" -g 'daemon off;' &
pids+=($!)
nginx -e "$tmp/nginx/error.log" -c "$proxy_conf" -g 'daemon off;' &
nginx_pid=$!
pids+=($!)
"$target/release/examples/proxy" "127.0.0.1:$ferry_port" "127.0.0.1:$backend_port" 2> "$tmp/ferry.log" &
ferry_pid=$!
pids+=($!)
targets=("direct:$backend_port" "ferry:$ferry_port" "nginx:$nginx_port")
if [[ -n $before ]]; then
    "$before" "127.0.0.1:$before_port" "127.0.0.1:$backend_port" 2> "$tmp/before.log" &
    before_pid=$!
    pids+=($!)
    targets+=("before:$before_port")
fi

# Each target must answer the backend's text before anything is timed.
for target in "${targets[@]}"; do
    port=${target#*:}
    for _ in $(seq 100); do
        if [[ $(curl -s "http://127.0.0.1:$port/" 2> /dev/null) == "hello from the backend" ]]; then continue 2; fi
        sleep 0.1
    done
    echo "proxy.sh: nothing answers on 127.0.0.1:$port (see $tmp)" >&2
    exit 1
done

# cpu_ticks TARGET: the CPU time (user + system, in clock ticks) of the proxy process of
# TARGET so far, its threads and nginx's workers included (0 for direct).
cpu_ticks() {
    local pid_list
    case $1 in
        ferry) pid_list=$ferry_pid ;;
        before) pid_list=$before_pid ;;
        nginx) pid_list="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" ;;
        *) echo 0; return ;;
    esac
    local total=0 pid fields
    for pid in $pid_list; do
        read -ra fields < "/proc/$pid/stat"
        # Fields 14 and 15 (utime, stime); the command name (field 2) has no space here.
        total=$((total + fields[13] + fields[14]))
    done
    echo "$total"
}

# measure TARGET PORT LOAD CONNECTIONS: one wrk run, one line of results.
measure() {
    local out before after
    before=$(cpu_ticks "$1")
    out=$(wrk -t1 -c"$4" -d"${duration}s" --latency "http://127.0.0.1:$2/")
    after=$(cpu_ticks "$1")
    python3 - "$1" "$3" "$out" "$((after - before))" "$(getconf CLK_TCK)" << 'EOF' >> "$tmp/results"
import re, sys
target, load, out, ticks, clk_tck = sys.argv[1:]
def ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
n_requests = int(re.search(r"(\d+) requests in", out).group(1))
cpu_us = int(ticks) / int(clk_tck) * 1e6 / max(n_requests, 1)
print(target, load, rps, p50, p99, failed, cpu_us)
EOF
}

echo "proxy.sh: $rounds rounds × (throughput with $connections connections, latency with 1), ${duration} s each; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# A warm-up of each target.
for target in "${targets[@]}"; do
    wrk -t1 -c"$connections" -d2s "http://127.0.0.1:${target#*:}/" > /dev/null
done
for ((round = 1; round <= rounds; round++)); do
    for target in "${targets[@]}"; do
        measure "${target%%:*}" "${target#*:}" throughput "$connections"
        measure "${target%%:*}" "${target#*:}" latency 1
    done
    echo "proxy.sh: round $round done" >&2
done

python3 - "$tmp/results" << 'EOF'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def values(target, load, column):
    return [float(row[column]) for row in rows if row[0] == target and row[1] == load]
def fmt(xs, digits):
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"
failed = sum(int(row[5]) for row in rows)
print(f"requests failed (non-2xx or socket errors), all runs: {failed}")
print()
print("| target | throughput, req/s | × direct | proxy CPU µs/request | p50 ms at 1 conn | p99 ms at 1 conn | p99 − direct's, ms | p99 ms at full load |")
print("|---|---|---|---|---|---|---|---|")
direct_rps = statistics.median(values("direct", "throughput", 2))
direct_p99 = statistics.median(values("direct", "latency", 4))
for target in ["direct", "ferry", "nginx", "before"]:
    rps = values(target, "throughput", 2)
    if not rps:
        continue
    p50 = values(target, "latency", 3)
    p99 = values(target, "latency", 4)
    loaded_p99 = values(target, "throughput", 4)
    cpu = values(target, "throughput", 6)
    cpu_text = "—" if target == "direct" else fmt(cpu, 1)
    print(f"| {target} | {fmt(rps, 0)} | {statistics.median(rps) / direct_rps:.2f} | {cpu_text} | {fmt(p50, 3)} | {fmt(p99, 3)} "
          f"| {statistics.median(p99) - direct_p99:+.3f} | {fmt(loaded_p99, 2)} |")
ferry = statistics.median(values("ferry", "throughput", 2))
nginx = statistics.median(values("nginx", "throughput", 2))
print()
print(f"ferry / nginx throughput: {ferry / nginx:.2f}")
if values("before", "throughput", 2):
    print(f"ferry / before throughput: {ferry / statistics.median(values('before', 'throughput', 2)):.2f}")
EOF
