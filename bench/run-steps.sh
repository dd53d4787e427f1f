#!/usr/bin/env bash
# Benchmark: what `ferry run` costs per `run:` step, against bare bash running the same scripts,
# measured in the same run (see BENCHMARKS.md for what it measures and the latest figures).
#
#     bench/run-steps.sh                  # 5 rounds × 3 timed runs per command, 1 warm-up run each
#     ROUNDS=10 RUNS=3 WARMUP=1 bench/run-steps.sh
#
# Needs git, python3, hyperfine and /usr/bin/time (Debian: `apt-get install hyperfine time`).
# Workloads, each a temporary git repository with .github/workflows/bench.yml:
#   one-job   one job of 200 steps `run: true` (`shell: bash`)
#   parallel  20 jobs (no needs) of 10 such steps, run with Ferry's default --parallel (= cores)
#   fixed     one job of 1 step: what a run costs besides its steps (start, parse, git clone)
# Baseline, the physical limit: for each step, write the script `true` to a file and run
# `bash --noprofile --norc -eo pipefail FILE` (exactly what Ferry runs for `shell: bash`), one
# after the other in a plain bash loop; for `parallel`, 20 such loops of 10 steps run through
# `xargs -P "$(nproc)"`, the parallelism Ferry uses.
# Every temporary file is removed on exit.
set -euo pipefail

rounds=${ROUNDS:-5}
runs=${RUNS:-3}
warmup=${WARMUP:-1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in git python3 hyperfine /usr/bin/time; do
    command -v "$tool" > /dev/null || { echo "run-steps.sh: $tool is missing (apt-get install hyperfine time git python3)" >&2; exit 1; }
done

tmp=$(mktemp -d -t ferry-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp

(cd "$root" && cargo build --release --quiet -p ferry)
ferry=$root/target/release/ferry

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

# make_repo NAME N_JOBS N_STEPS: a repository whose workflow has N_JOBS jobs of N_STEPS steps.
make_repo() {
    local repo=$tmp/$1 n_jobs=$2 n_steps=$3
    mkdir -p "$repo/.github/workflows"
    {
        printf 'name: bench\non: push\njobs:\n'
        for ((job_idx = 0; job_idx < n_jobs; job_idx++)); do
            printf '  job%d:\n    runs-on: ubuntu-latest\n    steps:\n' "$job_idx"
            for ((step_idx = 0; step_idx < n_steps; step_idx++)); do
                printf '      - run: true\n        shell: bash\n'
            done
        done
    } > "$repo/.github/workflows/bench.yml"
    git -C "$repo" init --quiet --initial-branch=main
    git -C "$repo" add -A
    git -C "$repo" commit --quiet -m bench
}
make_repo one-job 1 200
make_repo parallel 20 10
make_repo fixed 1 1

# The baseline's loop: N_STEPS times, write the script and run it as Ferry would.
cat > "$tmp/bash-steps.sh" << 'EOF'
dir=$1
n_steps=$2
for ((step_idx = 0; step_idx < n_steps; step_idx++)); do
    printf 'true' > "$dir/step.sh"
    bash --noprofile --norc -eo pipefail "$dir/step.sh"
done
EOF
for group_idx in $(seq 0 19) one-job fixed; do mkdir -p "$tmp/base/$group_idx"; done

# Ferry must really run every step: check the report once before timing.
for workload in one-job:200 parallel:200 fixed:1; do
    name=${workload%:*} n_steps=${workload#*:}
    "$ferry" run "$tmp/$name" --report "$tmp/$name.report.json" > /dev/null
    python3 - "$tmp/$name.report.json" "$n_steps" << 'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
steps = [step for job in report["jobs"].values() for step in job["steps"]]
ok = sum(step["conclusion"] == "success" for step in steps)
if report["conclusion"] != "success" or ok != int(sys.argv[2]):
    sys.exit(f"{sys.argv[1]}: expected {sys.argv[2]} successful steps, got {ok} ({report['conclusion']})")
EOF
done

echo "load before timing: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
# hyperfine runs all of one command's runs, then the other's; on a shared machine the load drifts,
# so each workload is timed in rounds that alternate baseline and ferry, and the runs are pooled.
for ((round = 0; round < rounds; round++)); do
    for workload in one-job:200 parallel:200 fixed:1; do
        name=${workload%:*} n_steps=${workload#*:}
        if [[ $name == parallel ]]; then
            baseline="seq 0 19 | xargs -P $(nproc) -I{} bash $tmp/bash-steps.sh $tmp/base/{} 10"
        else
            baseline="bash $tmp/bash-steps.sh $tmp/base/$name $n_steps"
        fi
        hyperfine --style basic --warmup "$warmup" --runs "$runs" --export-json "$tmp/$name.round$round.json" \
            -n baseline "$baseline" -n ferry "$ferry run $tmp/$name" > "$tmp/hyperfine.log"
    done
done
echo "load after timing: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Peak memory. /usr/bin/time -v reports the largest peak RSS of ferry and of each descendant it
# waited for, taken one by one (not their sum). Sampled from /proc every 2 ms: ferry's own peak
# (VmHWM), and the peak over time of the whole tree's (ferry + running git and bash) summed RSS,
# which counts shared pages (libc, bash's text) once per process, and summed PSS, which shares them.
cat > "$tmp/peak-rss.py" << 'EOF'
import os, subprocess, sys, time

def status_kb(pid, field, file="status"):
    try:
        with open(f"/proc/{pid}/{file}") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def tree(pid):
    pids = [pid]
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as children:
                for child in children.read().split():
                    pids.extend(tree(int(child)))
    except OSError:
        pass
    return pids

process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
own_hwm = tree_rss = tree_pss = 0
while process.poll() is None:
    own_hwm = max(own_hwm, status_kb(process.pid, "VmHWM"))
    pids = tree(process.pid)
    tree_rss = max(tree_rss, sum(status_kb(pid, "VmRSS") for pid in pids))
    tree_pss = max(tree_pss, sum(status_kb(pid, "Pss", "smaps_rollup") for pid in pids))
    time.sleep(0.002)
if process.returncode != 0:
    sys.exit(f"{sys.argv[1:]} failed with {process.returncode}")
print(own_hwm, tree_rss, tree_pss)
EOF
for name in one-job parallel fixed; do
    /usr/bin/time -v "$ferry" run "$tmp/$name" 2> "$tmp/$name.time" > /dev/null
    time_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/$name.time")
    python3 "$tmp/peak-rss.py" "$ferry" run "$tmp/$name" > "$tmp/$name.rss"
    echo "$time_kb" >> "$tmp/$name.rss"
done

python3 - "$tmp" << 'EOF'
import glob, json, statistics, sys
tmp = sys.argv[1]
def cell(times):
    return f"{statistics.median(times):.2f} ({min(times):.2f}–{max(times):.2f})"
print()
print("Wall time per step in ms, median (min–max) of all runs; CPU per step in ms is "
      "user+system of the whole process tree, mean; memory in MiB.")
print()
print("| workload | baseline wall | ferry wall | ratio of medians | ratio of minima | baseline CPU | ferry CPU | ferry's own peak RSS (VmHWM) | /usr/bin/time max RSS | tree peak, RSS sum / PSS sum |")
print("|---|---|---|---|---|---|---|---|---|---|")
medians = {}
for name, label, n_steps in [("one-job", "1 job × 200 steps", 200), ("parallel", "20 jobs × 10 steps", 200),
                             ("fixed", "1 job × 1 step (per run)", 1)]:
    rounds = [json.load(open(path))["results"] for path in sorted(glob.glob(f"{tmp}/{name}.round*.json"))]
    wall, cpu = {}, {}
    for command in ("baseline", "ferry"):
        results = [result for results in rounds for result in results if result["command"] == command]
        wall[command] = [t / n_steps * 1000 for result in results for t in result["times"]]
        cpu[command] = statistics.mean(result["user"] + result["system"] for result in results) / n_steps * 1000
    medians[name] = {command: statistics.median(times) * n_steps for command, times in wall.items()}
    own_kb, tree_rss_kb, tree_pss_kb, time_kb = (int(kb) for kb in open(f"{tmp}/{name}.rss").read().split())
    ratio = statistics.median(wall["ferry"]) / statistics.median(wall["baseline"])
    min_ratio = min(wall["ferry"]) / min(wall["baseline"])
    print(f"| {label} | {cell(wall['baseline'])} | {cell(wall['ferry'])} | {ratio:.2f} | {min_ratio:.2f} | "
          f"{cpu['baseline']:.2f} | {cpu['ferry']:.2f} | "
          f"{own_kb / 1024:.1f} | {time_kb / 1024:.1f} | {tree_rss_kb / 1024:.1f} / {tree_pss_kb / 1024:.1f} |")
# What a step costs once the run is set up: one-job minus fixed, over the 199 extra steps.
marginal = {command: (medians["one-job"][command] - medians["fixed"][command]) / 199 for command in ("baseline", "ferry")}
print(f"\nMarginal wall time of one more step in a job ((1 job × 200) − (1 job × 1), / 199): "
      f"baseline {marginal['baseline']:.2f} ms, ferry {marginal['ferry']:.2f} ms, "
      f"ratio {marginal['ferry'] / marginal['baseline']:.2f}")
EOF
