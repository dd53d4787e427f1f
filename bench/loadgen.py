#!/usr/bin/env python3
"""A load generator for bench/delivery.sh: THREADS threads (default 4) each send GET / one
after the other on a keep-alive connection to the current target, and count what comes back.

It takes commands on standard input, one per line, and answers each on standard output:

    target URL     send to URL from now on (every thread reconnects); counts start at zero
    report         one JSON line: the counts since `target` or the last `report`, then zero
    quit           stop

A report holds `sent`, `failed` (a status other than 200, or an error on the connection: a
refused, reset or closed connection, a timeout), the first few failures with their time and
reason, and per answer body (the service answers its release) the first and last time it was
seen, in seconds since `target`. A failed request is not retried: it is what a client of the
service would have seen. A connection that failed is opened again for the next request.

Python's threads are enough here: the service behind the proxy is a Python server too, and
what is measured is which requests fail, not how many per second get through.
"""

import http.client
import json
import sys
import threading
import time
import urllib.parse

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 4
TIMEOUT = 10.0
KEPT_FAILURES = 20


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.started = time.monotonic()
        self.sent = 0
        self.failed = 0
        self.failures = []
        self.bodies = {}

    def ok(self, body):
        with self.lock:
            self.sent += 1
            at = time.monotonic() - self.started
            first, _ = self.bodies.get(body, (at, at))
            self.bodies[body] = (first, at)

    def fail(self, reason):
        with self.lock:
            self.sent += 1
            self.failed += 1
            if len(self.failures) < KEPT_FAILURES:
                self.failures.append({"at": round(time.monotonic() - self.started, 3), "reason": reason})

    def report(self):
        with self.lock:
            out = {
                "sent": self.sent,
                "failed": self.failed,
                "failures": self.failures,
                "seconds": round(time.monotonic() - self.started, 3),
                "bodies": {body: [round(first, 3), round(last, 3)] for body, (first, last) in self.bodies.items()},
            }
            self.reset()
            return out


counts = Counts()
# The target and a number that changes with it, so that threads reconnect.
target = {"url": None, "generation": 0}
target_lock = threading.Lock()
stopping = threading.Event()


def worker():
    connection = None
    generation = -1
    while not stopping.is_set():
        with target_lock:
            url, current = target["url"], target["generation"]
        if url is None:
            time.sleep(0.05)
            continue
        if connection is None or generation != current:
            if connection is not None:
                connection.close()
            parsed = urllib.parse.urlsplit(url)
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=TIMEOUT)
            generation = current
            path = parsed.path or "/"
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode(errors="replace").strip()
            if response.status == 200:
                counts.ok(body)
            else:
                counts.fail(f"status {response.status}: {body[:120]}")
            if response.will_close:
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException) as error:
            counts.fail(f"{type(error).__name__}: {error}")
            connection.close()
            connection = None


def main():
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "target":
            with target_lock:
                target["url"] = argument
                target["generation"] += 1
            counts.report()
            print("ok", flush=True)
        elif command == "report":
            print(json.dumps(counts.report()), flush=True)
        elif command == "quit":
            break
        else:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)
    stopping.set()


if __name__ == "__main__":
    main()
