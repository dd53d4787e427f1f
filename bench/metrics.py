#!/usr/bin/env python3
"""Benchmark: Ferry's metrics store beside a real Prometheus (Debian's `prometheus` package) on
the same machine, fed the same remote-write requests, as issue 17 asks (see BENCHMARKS.md,
"Metrics store", for the figures):

    bench/metrics.py                          # 10,000 series × 30 samples, 2 sender threads
    SERIES=50000 ROUNDS=20 bench/metrics.py
    FERRY_BIN=/tmp/old-ferry bench/metrics.py # another build; nothing is built then

- ingestion: SERIES series × ROUNDS samples (15 s apart, ending now) sent as remote-write
  requests of BATCH series each (default 2,000, Prometheus' own max_samples_per_send), the
  same bytes to both, by SENDERS threads over keep-alive connections. Figures: samples a
  second (wall) and samples per CPU-second of the receiving process (from /proc: what one
  core ingests), and the ratio Ferry / Prometheus.
- memory: each process's RSS after the ingestion minus its RSS before, per series.
- range query: `sum(rate(bench_total[5m]))` and `bench_total{series="7"}` over the window at
  a 15 s step, QUERIES times each (default 20) after a warm-up; p50 and the ratio.

Both stores sync what they accept to their write-ahead log (Ferry before each answer;
Prometheus writes its WAL before answering too, syncing it in the background), so the ratio
compares what each does per request. Needs python3 and prometheus (apt-get install prometheus);
builds ferry in release. Every temporary file is removed on exit.
"""

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERRY = os.environ.get("FERRY_BIN") or os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"),
                                                    "release", "ferry")
SERIES = int(os.environ.get("SERIES", "10000"))
ROUNDS = int(os.environ.get("ROUNDS", "30"))
BATCH = int(os.environ.get("BATCH", "2000"))
SENDERS = int(os.environ.get("SENDERS", "2"))
QUERIES = int(os.environ.get("QUERIES", "20"))


# -- remote write's encoding: protobuf by hand, snappy as literals only (valid snappy) ----------

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire_type, payload):
    key = varint((number << 3) | wire_type)
    if wire_type == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def label(name, value):
    return field(1, 2, field(1, 2, name.encode()) + field(2, 2, value.encode()))


def sample(value, timestamp_ms):
    import struct
    return field(2, 2, field(1, 1, struct.pack("<d", value)) + field(2, 0, varint(timestamp_ms)))


def snappy_literals(data):
    """Snappy's block format with every byte as a literal: the length, then literal runs of
    at most 65,536 bytes (tag 61 << 2: a 2-byte length follows)."""
    out = bytearray(varint(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start:start + 65536]
        out.append(61 << 2)
        out += (len(chunk) - 1).to_bytes(2, "little")
        out += chunk
    return bytes(out)


def bodies(t0_ms):
    """Every request: round by round, BATCH series a request."""
    out = []
    for r in range(ROUNDS):
        t = t0_ms + r * 15_000
        for first in range(0, SERIES, BATCH):
            series = b"".join(
                field(1, 2, label("__name__", "bench_total") + label("job", "bench") + label("series", str(i))
                      + sample(float(r * 10 + i % 7), t))
                for i in range(first, min(SERIES, first + BATCH)))
            out.append(snappy_literals(series))
    return out


# -- the two processes ----------------------------------------------------------------------------

class Proc:
    def __init__(self, name, proc, addr, token=None):
        self.name, self.proc, self.addr, self.token = name, proc, addr, token

    def headers(self):
        h = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
             "X-Prometheus-Remote-Write-Version": "0.1.0"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))

    def cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def get(self, path):
        host, port = self.addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"} if self.token else {})
        res = conn.getresponse()
        body = res.read()
        conn.close()
        if res.status != 200:
            raise SystemExit(f"{self.name} GET {path}: {res.status} {body[:300]!r}")
        return json.loads(body)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_ferry(tmp):
    data = os.path.join(tmp, "ferry-data")
    config = os.path.join(tmp, "ferry.toml")
    with open(config, "w") as f:
        f.write("[metrics]\nscrape_self = false\n")
    proc = subprocess.Popen([FERRY, "server", "--listen", "127.0.0.1:0", "--data-dir", data, "--runner-slots", "0",
                             "--poll-interval", "0", "--no-agent", "--config", config],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if line.startswith("ferry server listening on http://"):
            addr = line.strip().removeprefix("ferry server listening on http://")
            break
    else:
        raise SystemExit("ferry server did not start")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    token = open(os.path.join(data, "admin.token")).read().strip()
    ferry = Proc("ferry", proc, addr, token)
    ferry.prefix = "/prometheus"
    return ferry


def start_prometheus(tmp):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = os.path.join(tmp, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 15s\n")
    proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp}/prom-data",
                             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prom = Proc("prometheus", proc, f"127.0.0.1:{port}")
    prom.prefix = ""
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/-/ready")
            if conn.getresponse().status == 200:
                return prom
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("prometheus did not become ready")


def ingest(target, requests):
    """Sends every request; (wall seconds, CPU seconds of the target)."""
    host, port = target.addr.rsplit(":", 1)
    headers = target.headers()
    path = f"{target.prefix}/api/v1/write"
    errors = []

    def sender(part):
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        for body in part:
            conn.request("POST", path, body=body, headers=headers)
            res = conn.getresponse()
            answer = res.read()
            if res.status not in (200, 204):
                errors.append(f"{res.status} {answer[:200]!r}")
                return
        conn.close()

    # Each round's requests are sent before the next round's (samples of a series in time order).
    cpu0, wall0 = target.cpu_s(), time.monotonic()
    per_round = len(requests) // ROUNDS
    for r in range(ROUNDS):
        chunk = requests[r * per_round:(r + 1) * per_round]
        threads = [threading.Thread(target=sender, args=(chunk[i::SENDERS],)) for i in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise SystemExit(f"{target.name} refused a request: {errors[0]}")
    return time.monotonic() - wall0, target.cpu_s() - cpu0


def query_p50(target, promql, start, end):
    params = urllib.parse.urlencode({"query": promql, "start": start, "end": end, "step": "15"})
    path = f"{target.prefix}/api/v1/query_range?{params}"
    answer = target.get(path)
    n_series = len(answer["data"]["result"])
    times = []
    for _ in range(QUERIES):
        t = time.monotonic()
        target.get(path)
        times.append(time.monotonic() - t)
    return statistics.median(times), n_series


def main():
    if shutil.which("prometheus") is None:
        raise SystemExit("bench/metrics.py: prometheus is missing (apt-get install prometheus)")
    if not os.environ.get("FERRY_BIN"):
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "ferry"], cwd=ROOT, check=True)
    t0 = (int(time.time()) - ROUNDS * 15) * 1000
    requests = bodies(t0)
    samples = SERIES * ROUNDS
    print(f"{SERIES} series × {ROUNDS} samples = {samples} samples in {len(requests)} requests "
          f"({sum(map(len, requests)) / len(requests) / 1024:.0f} KiB each), {SENDERS} senders")
    results = {}
    with tempfile.TemporaryDirectory(prefix="ferry-bench-metrics-") as tmp:
        for start in (start_ferry, start_prometheus):
            target = start(tmp)
            try:
                time.sleep(2)
                rss0 = target.rss_kib()
                wall, cpu = ingest(target, requests)
                time.sleep(1)
                rss1 = target.rss_kib()
                window = (t0 / 1000, t0 / 1000 + ROUNDS * 15)
                sum_rate, n_sum = query_p50(target, "sum(rate(bench_total[5m]))", *window)
                one, n_one = query_p50(target, 'bench_total{series="7"}', *window)
                if (n_sum, n_one) != (1, 1):
                    raise SystemExit(f"{target.name}: the queries found {n_sum} and {n_one} series, not 1 each")
                results[target.name] = {
                    "samples_per_s": samples / wall, "samples_per_cpu_s": samples / max(cpu, 1e-9),
                    "rss_growth_bytes_per_series": (rss1 - rss0) * 1024 / SERIES,
                    "rss_kib_after": rss1, "sum_rate_p50_ms": sum_rate * 1e3, "one_series_p50_ms": one * 1e3,
                }
            finally:
                target.stop()
    f, p = results["ferry"], results["prometheus"]
    print(json.dumps(results, indent=2))
    print("\n| | Ferry | Prometheus 2.42 | Ferry / Prometheus |\n|---|---|---|---|")
    rows = [("ingestion, samples/s (wall)", "samples_per_s", "{:,.0f}"),
            ("ingestion, samples per CPU-second", "samples_per_cpu_s", "{:,.0f}"),
            ("memory growth per series (RSS)", "rss_growth_bytes_per_series", "{:,.0f} B"),
            ("range query sum(rate(...[5m])) p50", "sum_rate_p50_ms", "{:.2f} ms"),
            ("range query of one series p50", "one_series_p50_ms", "{:.2f} ms")]
    for name, key, fmt in rows:
        ratio = f[key] / p[key] if p[key] else float("nan")
        print(f"| {name} | {fmt.format(f[key])} | {fmt.format(p[key])} | {ratio:.2f} × |")


if __name__ == "__main__":
    sys.exit(main())
