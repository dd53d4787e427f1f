#!/usr/bin/env bash
# Benchmark: what `ferry run` costs per JavaScript action step and per step of a container job,
# and what fetching an action costs once it is kept, each against a baseline measured in the same
# run (see BENCHMARKS.md for the figures).
#
#     bench/actions.sh                  # 5 rounds × 3 timed runs per command, 1 warm-up run each
#     ROUNDS=10 RUNS=3 WARMUP=1 bench/actions.sh
#     REQUESTS_ONLY=1 FERRY_BIN=target/debug/ferry bench/actions.sh   # only count requests to the source
#
# Needs git, node (20 or later), python3, hyperfine and a running Docker Engine with
# busybox-static installed (Debian: `apt-get install hyperfine busybox-static`).
# Workloads, each a temporary git repository with .github/workflows/bench.yml:
#   js         one job of 50 steps `uses: bench/noop@v1`, a node20 action fetched from a local
#              actions source (--actions-url file://…): its main.js reads an input and writes an
#              output, as small actions do.
#              Baseline: for each step, write the same files GitHub's runner gives an action
#              (GITHUB_OUTPUT, GITHUB_STATE, …) and run `node main.js` with INPUT_WHO set.
#   container  one `container:` job of 50 steps `run: true`, in an image built from busybox.
#              Baseline: the same container started by hand, and for each step the script
#              written to a file and run with `docker exec CONTAINER sh -e FILE`.
#   fetch      one job of 1 step using the action: the first run with an empty action store
#              (git fetches it) against runs with the store kept (the tag is resolved again,
#              as on GitHub, but nothing is fetched).
#   twice      two jobs (the second needs the first) of 1 step using the action, from the same
#              source served over git's smart HTTP on loopback by bench/git_http.py, which
#              counts the requests: the same count as one job's run means the second job
#              reached no network (the action is fetched once per commit).
# Node.js reads NODE_EXTRA_CA_CERTS at start (about 50 ms here); steps do not get it from the
# host, so it is unset for both sides.
set -euo pipefail

rounds=${ROUNDS:-5}
runs=${RUNS:-3}
warmup=${WARMUP:-1}
n_steps=50
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in git node python3 hyperfine docker curl; do
    command -v "$tool" > /dev/null || { echo "actions.sh: $tool is missing" >&2; exit 1; }
done
[[ -x /bin/busybox ]] || { echo "actions.sh: /bin/busybox is missing (apt-get install busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d -t ferry-bench-XXXXXX)
container=ferry-bench-$$
image=ferry-bench/busybox:1
git_http_pid=
cleanup() {
    [[ -z $git_http_pid ]] || kill "$git_http_pid" 2> /dev/null || true
    docker rm -f "$container" > /dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
export TMPDIR=$tmp
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS

if [[ -n ${FERRY_BIN:-} ]]; then
    ferry=$FERRY_BIN # a build of your own (the request counts do not depend on it; timings want release)
else
    (cd "$root" && cargo build --release --quiet -p ferry)
    ferry=${CARGO_TARGET_DIR:-$root/target}/release/ferry
fi

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
# Ferry's stores (actions, tool cache, caches) for these runs only.
export XDG_CACHE_HOME=$tmp/cache

# The action, in a local actions source: $tmp/source/bench/noop, tagged v1.
action=$tmp/source/bench/noop
mkdir -p "$action"
cat > "$action/action.yml" << 'EOF'
name: noop
inputs:
  who: { default: world }
outputs:
  greeting: { description: the greeting }
runs: { using: node20, main: main.js }
EOF
cat > "$action/main.js" << 'EOF'
const fs = require("fs");
const who = process.env.INPUT_WHO || "world";
fs.appendFileSync(process.env.GITHUB_OUTPUT, `greeting=hello ${who}\n`);
EOF
git -C "$action" init --quiet --initial-branch=main
git -C "$action" add -A
git -C "$action" commit --quiet -m noop
git -C "$action" tag v1

# make_repo NAME JOB_HEADER STEP: a repository whose one job has $n_steps copies of STEP.
make_repo() {
    local repo=$tmp/$1 header=$2 step=$3 count=$4
    mkdir -p "$repo/.github/workflows"
    {
        printf 'name: bench\non: push\njobs:\n  bench:\n    runs-on: ubuntu-latest\n%s    steps:\n' "$header"
        for ((step_idx = 0; step_idx < count; step_idx++)); do printf '%s\n' "$step"; done
    } > "$repo/.github/workflows/bench.yml"
    git -C "$repo" init --quiet --initial-branch=main
    git -C "$repo" add -A
    git -C "$repo" commit --quiet -m bench
}
make_repo js "" "      - uses: bench/noop@v1
        with: { who: bench }" "$n_steps"
make_repo fetch "" "      - uses: bench/noop@v1" 1
mkdir -p "$tmp/twice/.github/workflows"
printf 'name: bench\non: push\njobs:\n  first:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: bench/noop@v1\n  second:\n    needs: first\n    runs-on: ubuntu-latest\n    steps:\n      - uses: bench/noop@v1\n' \
    > "$tmp/twice/.github/workflows/bench.yml"
git -C "$tmp/twice" init --quiet --initial-branch=main
git -C "$tmp/twice" add -A
git -C "$tmp/twice" commit --quiet -m bench
make_repo container "    container: $image
" "      - run: true" "$n_steps"

# The image: busybox alone.
mkdir -p "$tmp/image"
cp /bin/busybox "$tmp/image/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$tmp/image/Dockerfile"
docker build --quiet -t "$image" "$tmp/image" > /dev/null

# The baselines' loops.
cat > "$tmp/node-steps.sh" << EOF
dir=\$1
for ((step_idx = 0; step_idx < $n_steps; step_idx++)); do
    : > "\$dir/output"; : > "\$dir/state"; : > "\$dir/env"; : > "\$dir/path"
    GITHUB_OUTPUT=\$dir/output GITHUB_STATE=\$dir/state GITHUB_ENV=\$dir/env GITHUB_PATH=\$dir/path INPUT_WHO=bench \\
        node "$action/main.js"
done
EOF
cat > "$tmp/exec-steps.sh" << EOF
dir=\$1
for ((step_idx = 0; step_idx < $n_steps; step_idx++)); do
    printf 'true' > "\$dir/step.sh"
    docker exec $container sh -e /bench/step.sh
done
EOF
mkdir -p "$tmp/base/node" "$tmp/base/exec"
docker run -d --name "$container" -v "$tmp/base/exec:/bench" "$image" sleep 100000 > /dev/null

source_url=file://$tmp/source
# Ferry must really run every step: check the reports once before timing.
for name in js:$n_steps container:$n_steps fetch:1; do
    workload=${name%:*} expected=${name#*:}
    "$ferry" run "$tmp/$workload" --actions-url "$source_url" --report "$tmp/$workload.report.json" > /dev/null
    python3 - "$tmp/$workload.report.json" "$expected" << 'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
steps = [step for job in report["jobs"].values() for step in job["steps"] if not step["name"].startswith("Post ")]
ok = sum(step["conclusion"] == "success" for step in steps)
if report["conclusion"] != "success" or ok != int(sys.argv[2]):
    sys.exit(f"{sys.argv[1]}: expected {sys.argv[2]} successful steps, got {ok} ({report['conclusion']})")
EOF
done

# The same source over HTTP, counting requests: one job against two, the store emptied, then kept.
python3 "$root/bench/git_http.py" "$tmp/source" "$tmp/git_http.port" &
git_http_pid=$!
until [[ -s $tmp/git_http.port ]]; do sleep 0.05; done
http_url=http://127.0.0.1:$(cat "$tmp/git_http.port")
requests() { # requests WORKLOAD: runs it against the HTTP source, prints how many requests it made
    curl -s -X POST "$http_url/reset" > /dev/null
    "$ferry" run "$tmp/$1" --actions-url "$http_url" --report "$tmp/$1.http.json" > /dev/null
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["conclusion"] != "success")' "$tmp/$1.http.json"
    curl -s "$http_url/count"
}
rm -rf "$XDG_CACHE_HOME/ferry/actions"
n_one=$(requests fetch)
rm -rf "$XDG_CACHE_HOME/ferry/actions"
n_two=$(requests twice)
n_kept=$(requests twice)
echo "$n_one $n_two $n_kept" > "$tmp/requests"
if [[ -n ${REQUESTS_ONLY:-} ]]; then
    echo "requests to the actions source per run: one job, empty store: $n_one; two jobs, empty store: $n_two; two jobs, store kept: $n_kept"
    exit 0
fi

echo "load before timing: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
for ((round = 0; round < rounds; round++)); do
    hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$tmp/js.round$round.json" \
        -n baseline "bash $tmp/node-steps.sh $tmp/base/node" \
        -n ferry "$ferry run $tmp/js --actions-url $source_url" > "$tmp/hyperfine.log"
    hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$tmp/container.round$round.json" \
        -n baseline "bash $tmp/exec-steps.sh $tmp/base/exec" \
        -n ferry "$ferry run $tmp/container" > "$tmp/hyperfine.log"
    # Cold: the action store emptied before each run; warm: kept.
    hyperfine --style basic --runs "$runs" --export-json "$tmp/fetch.round$round.json" \
        --prepare "rm -rf $XDG_CACHE_HOME/ferry/actions" -n cold "$ferry run $tmp/fetch --actions-url $source_url" \
        > "$tmp/hyperfine.log"
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$tmp/warm.round$round.json" \
        -n warm "$ferry run $tmp/fetch --actions-url $source_url" > "$tmp/hyperfine.log"
done
echo "load after timing: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$tmp" "$n_steps" << 'EOF'
import glob, json, statistics, sys
tmp, n_steps = sys.argv[1], int(sys.argv[2])
def pooled(name, command):
    return [t * 1000 for path in sorted(glob.glob(f"{tmp}/{name}.round*.json"))
            for result in json.load(open(path))["results"] if result["command"] == command for t in result["times"]]
def cell(times):
    return f"{statistics.median(times):.2f} ({min(times):.2f}–{max(times):.2f})"
print()
print("Wall time per step in ms, median (min–max) of all runs.")
print()
print("| workload | baseline | ferry | ratio of medians | ratio of minima |")
print("|---|---|---|---|---|")
for name, label, baseline in [("js", f"JavaScript action, 1 job × {n_steps} steps", "node main.js by hand"),
                              ("container", f"container job, 1 job × {n_steps} `run: true`", "docker exec by hand")]:
    base = [t / n_steps for t in pooled(name, "baseline")]
    ferry = [t / n_steps for t in pooled(name, "ferry")]
    print(f"| {label} (baseline: {baseline}) | {cell(base)} | {cell(ferry)} | "
          f"{statistics.median(ferry) / statistics.median(base):.2f} | {min(ferry) / min(base):.2f} |")
cold, warm = pooled("fetch", "cold"), pooled("warm", "warm")
print()
print(f"One run of a 1-step job using the action, ms: cold store (git fetch) {cell(cold)}, "
      f"kept checkout {cell(warm)}; saved by keeping it: {statistics.median(cold) - statistics.median(warm):.1f} ms.")
n_one, n_two, n_kept = open(f"{tmp}/requests").read().split()
print()
print(f"Requests to the actions source (git over HTTP) per run: one job, empty store: {n_one}; "
      f"two jobs using the action, empty store: {n_two} (the second job: {int(n_two) - int(n_one)}); "
      f"two jobs, store kept: {n_kept}.")
EOF
