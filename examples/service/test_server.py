"""Tests of the example service, run by its pipeline: `python3 -m unittest -v`."""

import os
import threading
import unittest
import urllib.error
import urllib.request

import server


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = server.make_server(0)
        cls.base = f"http://127.0.0.1:{cls.httpd.server_address[1]}"
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as res:
                return res.status, res.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def test_greets_with_the_configured_greeting(self):
        os.environ["GREETING"] = "ahoy"
        try:
            status, body = self.get("/")
        finally:
            del os.environ["GREETING"]
        self.assertEqual(status, 200)
        self.assertEqual(body, f"ahoy from the example service {server.VERSION}\n")

    def test_health_check_passes(self):
        self.assertEqual(self.get("/healthz"), (200, "ok\n"))

    def test_metrics_count_requests_by_path_and_code(self):
        self.get("/nowhere")
        status, body = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn('example_requests_total{path="other",code="404"}', body)
        self.assertIn("# TYPE example_uptime_seconds gauge", body)


if __name__ == "__main__":
    unittest.main()
