"""A git smart-HTTP server on loopback for bench/actions.sh: serves the repositories under
ROOT through `git http-backend` and counts the requests it answers, so the benchmark can show
how often `ferry run` reaches its actions source.

    python3 bench/git_http.py ROOT PORT_FILE

Writes the port it listens on (127.0.0.1) to PORT_FILE. `GET /count` answers the number of
git requests so far; `POST /reset` sets it to 0.
"""

import http.server
import os
import subprocess
import sys

ROOT, PORT_FILE = sys.argv[1], sys.argv[2]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def git(self, method):
        global count
        path, _, query = self.path.partition("?")
        if path == "/count":
            return self.reply(200, [("Content-Type", "text/plain")], str(count).encode())
        if path == "/reset":
            count = 0
            return self.reply(200, [], b"")
        count += 1
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        env = dict(
            os.environ,
            GIT_PROJECT_ROOT=ROOT,
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=method,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(length),
            REMOTE_ADDR="127.0.0.1",
        )
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True, check=False).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.reply(status, headers, body)

    def do_GET(self):
        self.git("GET")

    def do_POST(self):
        self.git("POST")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as port_file:
    port_file.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
