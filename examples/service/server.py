"""The example service Ferry builds, releases and deploys: a greeting over HTTP.

It listens on $PORT (on 127.0.0.1), answers `/` with a greeting ($GREETING, "hello" unless
set), `/healthz` with 200 while it is healthy, and `/metrics` in Prometheus' text format.
Only Python 3's standard library is used, so any fresh machine runs it.
"""

import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")).read().strip()

_lock = threading.Lock()
_requests = {}  # (path, code) -> count
_started = time.time()


def greeting():
    return f"{os.environ.get('GREETING', 'hello')} from the example service {VERSION}\n"


def healthy():
    """Whether /healthz passes: unless $HEALTHY is "no", which `.ferry/deploy.yml` sets to show
    what Ferry does with a release that passes its tests but fails its health check."""
    return os.environ.get("HEALTHY", "yes") != "no"


def metrics_text():
    lines = [
        "# HELP example_requests_total Requests answered, by path and status code.",
        "# TYPE example_requests_total counter",
    ]
    with _lock:
        for (path, code), count in sorted(_requests.items()):
            lines.append(f'example_requests_total{{path="{path}",code="{code}"}} {count}')
    lines += [
        "# HELP example_uptime_seconds Seconds since the process started.",
        "# TYPE example_uptime_seconds gauge",
        f"example_uptime_seconds {time.time() - _started:.3f}",
        "",
    ]
    return "\n".join(lines)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            code, body, kind = 200, greeting(), "text/plain; charset=utf-8"
        elif path == "/healthz":
            ok = healthy()
            code, body, kind = (200, "ok\n", "text/plain") if ok else (503, "unhealthy\n", "text/plain")
        elif path == "/metrics":
            code, body, kind = 200, metrics_text(), "text/plain; version=0.0.4"
        else:
            code, body, kind = 404, "not found\n", "text/plain"
        with _lock:
            key = (path if code != 404 else "other", code)
            _requests[key] = _requests.get(key, 0) + 1
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def make_server(port):
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = make_server(port)
    # SIGTERM ends the process after the requests in flight, as Ferry's agent expects.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"example service {VERSION} listening on 127.0.0.1:{port}", flush=True)
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    main()
