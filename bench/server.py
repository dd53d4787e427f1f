#!/usr/bin/env python3
"""Benchmarks of `ferry server` with its embedded runner, each against a baseline measured in
the same run (see BENCHMARKS.md for what they measure and the latest figures).

    bench/server.py                 # all four
    bench/server.py latency rss     # some of them: latency, throughput, log, rss
    ROUNDS=50 bench/server.py latency

- latency: a signed GitHub push webhook → the first step's process running, p50/p99 over
  ROUNDS pushes (default 40) of the same commit, then ROUNDS pushes of a new commit each,
  against bash starting the same step command directly.
- throughput: 100, 1,000 and 5,000 one-step jobs (matrix jobs of up to 250 instances; N_JOBS=100,1000
  picks the sizes) queued at once and run by the embedded runner (2 slots), each against `xargs -P 2`
  running the same step scripts with bash.
- log: a step that writes 50 MB (500,000 lines of 100 bytes) while a live viewer follows the
  run's log, from the trigger until the viewer has every line: `ferry logs --follow` writing
  to a file, the SSE stream read by Python, and no viewer (until the run is seen completed);
  LOG_ROUNDS runs of each (default 5) after a warm-up, LOG_VIEWERS=cli,sse,none to pick,
  with the CPU time a run cost the server process and `ferry logs` (from /proc, in ticks).
  Baseline (the target is ≤ 1.5 × it): the physical floor of what a CI system must do with a
  step's output, `cat DATA | tee STORED | cat > VIEWED` — read it from the step, store it, hand
  it to a live viewer that writes its own file, nothing else. Beside it, for continuity: `cat`
  of the same bytes to a new file and `cat | cat | cat` to a new file. Every timed write goes
  to a new file (the last one is deleted before the clock starts): writing over a 50 MB file
  first frees its pages, which took longer than the write (`cat` over its last copy is shown
  too).
- rss: the server's memory (VmRSS and VmHWM from /proc) after it has idled 5 s with its
  embedded runner, and a standalone `ferry runner`'s.

Needs git and python3; builds ferry in release. Every temporary file is removed on exit.
"""

import hashlib
import hmac
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# FERRY_BIN: a ferry binary built elsewhere (another commit, to compare); nothing is built then.
FERRY = os.environ.get("FERRY_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                                                    "release", "ferry")
SECRET = "bench-secret"
GIT_ENV = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null")


def make_repo(path, workflow):
    os.makedirs(os.path.join(path, ".github", "workflows"))
    with open(os.path.join(path, ".github", "workflows", "bench.yml"), "w") as f:
        f.write(workflow)
    for args in (["init", "--quiet", "--initial-branch=main"], ["add", "-A"], ["commit", "--quiet", "-m", "bench"]):
        subprocess.run(["git", "-C", path, *args], check=True, env=GIT_ENV)
    return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


class Server:
    """`ferry server` on a free loopback port with a fresh data directory."""

    def __init__(self, tmp, slots=2):
        self.data = os.path.join(tmp, f"data-{time.monotonic_ns()}")
        self.proc = subprocess.Popen(
            [FERRY, "server", "--listen", "127.0.0.1:0", "--data-dir", self.data, "--runner-slots", str(slots),
             "--poll-interval", "0", "--no-agent"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in self.proc.stdout:
            if line.startswith("ferry server listening on http://"):
                self.addr = line.strip().removeprefix("ferry server listening on http://")
                break
        else:
            raise SystemExit("ferry server did not start")
        self.token = open(os.path.join(self.data, "admin.token")).read().strip()
        host, port = self.addr.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port))

    def call(self, method, path, body=None, headers=None):
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})}
        self.conn.request(method, path, body=data, headers=all_headers)
        res = self.conn.getresponse()
        text = res.read()
        if res.status >= 300:
            raise SystemExit(f"{method} {path}: {res.status} {text[:300]!r}")
        return json.loads(text) if text else None

    def add_project(self, repo):
        self.call("POST", "/api/v1/projects", {"name": "bench", "repo": repo, "webhook_secret": SECRET})

    def wait_run(self, run_id, timeout=600):
        """The run's detail once it completed, polled every 10 ms through the project's run
        list (a run's own detail lists its jobs: polling it during 1,000 jobs took a twentieth
        of the server's CPU)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            runs = self.call("GET", "/api/v1/projects/bench/runs?limit=5")
            if any(run["id"] == run_id and run["status"] == "completed" for run in runs):
                return self.call("GET", f"/api/v1/runs/{run_id}")
            time.sleep(0.01)
        raise SystemExit(f"run {run_id} did not complete")

    def rss_kib(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def cpu_ms(self):
        """CPU time the server has used, its embedded runner and the steps it reaped included."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(tick) for tick in fields[11:15]) * 1000 / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def summary(values, unit="ms", scale=1e3):
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return (f"p50 {statistics.median(values) * scale:.2f} {unit}, p99 {p(0.99) * scale:.2f} {unit} "
            f"(min {values[0] * scale:.2f}, max {values[-1] * scale:.2f}, n={len(values)})")


def commit(repo, n):
    """Commits a change to `repo`; its new HEAD."""
    with open(os.path.join(repo, "change.txt"), "w") as f:
        f.write(f"change {n}\n")
    for args in (["add", "-A"], ["commit", "--quiet", "-m", f"change {n}"]):
        subprocess.run(["git", "-C", repo, *args], check=True, env=GIT_ENV)
    return subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def push_hook(before, after):
    """A signed GitHub push webhook of main from `before` to `after`: its body and headers."""
    body = json.dumps({"ref": "refs/heads/main", "before": before, "after": after,
                       "repository": {"full_name": "bench/bench"}, "sender": {"login": "bench"},
                       "commits": [{"id": after, "added": [], "modified": ["x"], "removed": []}]}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature}


def bench_latency(tmp):
    rounds = int(os.environ.get("ROUNDS", "40"))
    mark = os.path.join(tmp, "mark")
    workflow = f"on: push\njobs:\n  first:\n    runs-on: self-hosted\n    steps:\n      - run: date +%s%N > {mark}\n"
    repo = os.path.join(tmp, "latency")
    sha = make_repo(repo, workflow)
    server = Server(tmp)
    server.add_project(repo)
    ferry, fresh, baseline = [], [], []
    # The same commit pushed again (the runner's checkout of it is warm), then a new commit
    # each time (made before the clock starts): the server fetches it, the runner checks it out.
    for new_commit, times in ((False, ferry), (True, fresh)):
        for round_idx in range(rounds + 2):
            before = sha
            if new_commit:
                sha = commit(repo, round_idx)
            body, headers = push_hook(before if new_commit else "0" * 40, sha)
            if os.path.exists(mark):
                os.remove(mark)
            sent = time.time_ns()
            queued = server.call("POST", "/hooks/github/bench", body, headers)
            while not os.path.exists(mark) or os.path.getsize(mark) == 0:
                time.sleep(0.001)  # a gentler poll leaves the 2 cores to the server (≤ 1 ms of error)
            started = int(open(mark).read().strip())
            server.wait_run(queued["runs"][0]["run"])
            os.remove(mark)
            if round_idx >= 2:  # warm-up
                times.append((started - sent) / 1e9)
            if new_commit:
                continue
            # The physical limit: bash starting the same step command right away.
            spawned = time.time_ns()
            subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", f"date +%s%N > {mark}"],
                           check=True)
            bash_started = int(open(mark).read().strip())
            if round_idx >= 2:
                baseline.append((bash_started - spawned) / 1e9)
    server.stop()
    print(f"latency  webhook → first step running: {summary(ferry)}")
    print(f"         … a new commit each push:     {summary(fresh)}")
    print(f"         baseline, bash starting the step: {summary(baseline)}")
    print(f"         ratio of medians: {statistics.median(ferry) / statistics.median(baseline):.1f} × "
          f"({statistics.median(fresh) / statistics.median(baseline):.1f} × with a new commit)")


def bench_throughput(tmp):
    for n_jobs in (int(n) for n in os.environ.get("N_JOBS", "100,1000,5000").split(",")):
        throughput(tmp, n_jobs)


def throughput(tmp, n_total):
    per_job = min(250, n_total)
    n_jobs = n_total // per_job
    values = ", ".join(str(n) for n in range(per_job))
    jobs = "".join(f"  job{j}:\n    runs-on: self-hosted\n    strategy:\n      matrix:\n        n: [{values}]\n"
                   f"    steps:\n      - run: 'true'\n" for j in range(n_jobs))
    repo = os.path.join(tmp, f"throughput-{n_total}")
    make_repo(repo, f"on: workflow_dispatch\njobs:\n{jobs}")
    server = Server(tmp, slots=2)
    server.add_project(repo)
    start = time.monotonic()
    run = server.call("POST", "/api/v1/projects/bench/trigger", {"workflow": "bench.yml"})["runs"][0]
    detail = server.wait_run(run["id"], timeout=3600)
    elapsed = time.monotonic() - start
    server.stop()
    n_done = sum(1 for job in detail["jobs"] if job["conclusion"] == "success")
    assert n_done == n_jobs * per_job, f"{n_done} jobs succeeded: {detail['run']}"
    script = os.path.join(tmp, "step.sh")
    open(script, "w").write("true\n")
    start = time.monotonic()
    subprocess.run(f"seq 1 {n_done} | xargs -P 2 -I{{}} bash --noprofile --norc -eo pipefail {script}",
                   shell=True, check=True)
    base = time.monotonic() - start
    print(f"throughput  {n_done} one-step jobs: {elapsed:.2f} s, {n_done / elapsed:.0f} jobs/s "
          f"({elapsed / n_done * 1e3:.1f} ms per job)")
    print(f"            baseline, xargs -P 2 bash: {base:.2f} s ({base / n_done * 1e3:.2f} ms per step); "
          f"ratio {elapsed / base:.1f} ×")


def follow_log(server, run_id):
    """Follows run `run_id`'s log over SSE until its end; the number of 99-x lines seen, when
    the first chunk came and when the end came (time.monotonic())."""
    host, port = server.addr.rsplit(":", 1)
    viewer = http.client.HTTPConnection(host, int(port))
    viewer.request("GET", f"/api/v1/runs/{run_id}/logs?follow=true", headers={"Authorization": f"Bearer {server.token}"})
    res = viewer.getresponse()
    n_lines, first_at, event = 0, None, None
    for raw in res:
        text = raw.decode().rstrip("\n")
        if text.startswith("event: "):
            event = text[7:]
        elif text.startswith("data: ") and event == "chunk":
            n_lines += json.loads(text[6:])["lines"].count("x" * 99)
            first_at = first_at or time.monotonic()
        elif text.startswith("data: ") and event == "end":
            break
    ended_at = time.monotonic()
    viewer.close()
    return n_lines, first_at, ended_at


def remove(path):
    """Deletes `path` if it is there: the next write to it makes a new file."""
    if os.path.exists(path):
        os.unlink(path)


def follow_with_cli(server, run_id, out, prefixed=True):
    """`ferry logs RUN --follow` (with `--no-prefix` unless `prefixed`) into the file `out`
    until the run completes; the number of 99-x lines it printed (counted after it exited) and
    when it had exited and the file was closed (time.monotonic())."""
    with open(out, "w") as f:
        subprocess.run([FERRY, "logs", str(run_id), "--follow", "--server", f"http://{server.addr}",
                        "--token", server.token, *([] if prefixed else ["--no-prefix"])],
                       stdout=f, check=True, env=dict(os.environ, NO_COLOR="1"))
    # The file closed, as for `cat`.
    exited_at = time.monotonic()
    with open(out) as f:
        text = f.read()
    if prefixed:
        return text.count(" | " + "x" * 99 + "\n"), exited_at
    # 500,000 such lines in 50,000,000 bytes: exactly the bytes the step wrote.
    return (text.count("x" * 99 + "\n") if len(text) == 50_000_000 else -1), exited_at


def bench_log(tmp):
    rounds = int(os.environ.get("LOG_ROUNDS", "5"))
    data = os.path.join(tmp, "50mb.txt")
    line = "x" * 99 + "\n"
    with open(data, "w") as f:
        f.write(line * 500_000)
    repo = os.path.join(tmp, "log")
    make_repo(repo, f"on: workflow_dispatch\njobs:\n  log:\n    runs-on: self-hosted\n    steps:\n      - run: cat {data}\n")
    server = Server(tmp)
    server.add_project(repo)
    out = os.path.join(tmp, "viewed.txt")
    viewers = os.environ.get("LOG_VIEWERS", "cli,plain,sse,none").split(",")
    elapsed = {viewer: [] for viewer in viewers}
    cpu = {viewer: [0.0, 0.0] for viewer in viewers}  # server, viewer process: ms over the rounds
    for round_idx in range(rounds + 1):
        for viewer in viewers:
            remove(out)
            server_cpu, children = server.cpu_ms(), os.times()
            start = time.monotonic()
            run = server.call("POST", "/api/v1/projects/bench/trigger", {"workflow": "bench.yml"})["runs"][0]
            if viewer == "sse":
                n_lines, _, done = follow_log(server, run["id"])
            elif viewer == "cli":
                n_lines, done = follow_with_cli(server, run["id"], out)
            elif viewer == "plain":
                n_lines, done = follow_with_cli(server, run["id"], out, prefixed=False)
            else:
                # No viewer: until the run is seen completed (polled every 10 ms).
                server.wait_run(run["id"])
                n_lines, done = 500_000, time.monotonic()
            assert n_lines == 500_000, f"the {viewer} viewer saw {n_lines} lines"
            server.wait_run(run["id"])
            if round_idx >= 1:  # warm-up: the runner's first checkout of the repository
                elapsed[viewer].append(done - start)
                after = os.times()
                cpu[viewer][0] += server.cpu_ms() - server_cpu
                cpu[viewer][1] += (after.children_user + after.children_system
                                   - children.children_user - children.children_system) * 1000
    rss, hwm = server.rss_kib()
    server.stop()
    copy = os.path.join(tmp, "copy.txt")
    times, over_times = [], []
    # To a new file each time, then over the last copy each time (as sessions before
    # 2026-12-02 measured: ext4 then writes the rewritten file back when it is closed).
    for fresh in [True] * rounds + [False] * rounds:
        if fresh:
            remove(copy)
        copy_start = time.monotonic()
        with open(copy, "w") as f:
            subprocess.run(["cat", data], stdout=f, check=True)
        (times if fresh else over_times).append(time.monotonic() - copy_start)
    # What any live viewer costs at least: the bytes through a step's pipe and a viewer's, the
    # hops a log takes from a step to a viewer's file, with nothing stored or looked at.
    chain_times = []
    for _ in range(rounds):
        remove(copy)
        chain_start = time.monotonic()
        subprocess.run(["bash", "-c", 'cat "$1" | cat | cat > "$2"', "chain", data, copy], check=True)
        chain_times.append(time.monotonic() - chain_start)
    # The floor the target is against: the bytes read from the step, stored, and written by a
    # live viewer to its own file, nothing else done (both files new each time).
    stored = os.path.join(tmp, "stored.txt")
    tee_times = []
    for _ in range(rounds):
        remove(copy)
        remove(stored)
        tee_start = time.monotonic()
        subprocess.run(["bash", "-c", 'cat "$1" | tee "$2" | cat > "$3"', "tee", data, stored, copy], check=True)
        tee_times.append(time.monotonic() - tee_start)
    remove(stored)
    base = statistics.median(times)
    floor = statistics.median(tee_times)
    print(f"log  50 MB through a step, stored and followed live, from the trigger to the viewer's last line:")
    labels = {"cli": "`ferry logs --follow` to a file:", "plain": "… with --no-prefix (cat's bytes):",
              "sse": "the SSE stream read by Python: ",
              "none": "no viewer (run seen completed):"}
    for viewer in viewers:
        median = statistics.median(elapsed[viewer])
        print(f"     {labels[viewer]} {summary(elapsed[viewer])}; ratio of medians "
              f"{median / floor:.2f} × the tee floor (target ≤ 1.5), {median / base:.1f} × cat")
        viewer_cpu = f", `ferry logs` {cpu[viewer][1] / rounds:.0f} ms" if viewer in ("cli", "plain") else ""
        print(f"     {'':32} CPU a run: server (runner and step included) {cpu[viewer][0] / rounds:.0f} ms{viewer_cpu}")
    print(f"     baseline, cat | tee STORED | cat > VIEWED: {summary(tee_times)}; {floor / base:.1f} × cat")
    print(f"     cat to a new file:              {summary(times)}; server peak RSS {hwm / 1024:.1f} MiB")
    print(f"     floor, cat | cat | cat to a new file: {summary(chain_times)}; "
          f"{statistics.median(chain_times) / base:.1f} × cat, with nothing stored")
    print(f"     (cat over its last copy:        {summary(over_times)}, "
          f"against which `ferry logs` is {statistics.median(elapsed.get('cli', [0])) / statistics.median(over_times):.1f} ×)")


def bench_rss(tmp):
    server = Server(tmp, slots=2)
    time.sleep(5)
    rss, hwm = server.rss_kib()
    runner_dir = os.path.join(tmp, "runner")
    runner = subprocess.Popen([FERRY, "runner", "--server", f"http://{server.addr}", "--token", server.token,
                               "--name", "bench", "--work-dir", runner_dir], stderr=subprocess.DEVNULL)
    time.sleep(5)
    fields = dict(line.split(":", 1) for line in open(f"/proc/{runner.pid}/status"))
    runner_rss = int(fields["VmRSS"].split()[0])
    runner.terminate()
    runner.wait(timeout=30)
    server.stop()
    print(f"rss  idle server with its embedded runner: VmRSS {rss / 1024:.1f} MiB (peak {hwm / 1024:.1f} MiB); "
          f"idle ferry runner: VmRSS {runner_rss / 1024:.1f} MiB")


def main():
    chosen = sys.argv[1:] or ["latency", "throughput", "log", "rss"]
    benches = {"latency": bench_latency, "throughput": bench_throughput, "log": bench_log, "rss": bench_rss}
    if not os.environ.get("FERRY_BIN"):
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "ferry"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="ferry-bench-server-")
    try:
        for name in chosen:
            benches[name](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
