#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A falcosidekick stand-in for the exporter tests: `POST /` with the input
contract of falcosidekick's FalcoPayload.Check() (ecosystem.md §2.3), plus a
non-empty `output`. Accepted payloads are appended, one JSON per line, to
ACCEPTED; rejected ones to ACCEPTED.rejected. Prints the port it listens on.

usage: sidekick_receiver.py ACCEPTED [PORT]
"""
import datetime
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRIORITIES = {"emergency", "alert", "critical", "error", "warning", "notice",
              "informational", "info", "debug"}


def check(p):
    """Why falcosidekick would answer 400, or None."""
    if not isinstance(p, dict):
        return "not a JSON object"
    if not isinstance(p.get("rule"), str) or not p["rule"]:
        return "missing rule"
    if not isinstance(p.get("priority"), str) or p["priority"].lower() not in PRIORITIES:
        return "unknown priority"
    t = p.get("time")
    if not isinstance(t, str):
        return "missing time"
    try:
        # Go's RFC 3339 parser takes nanoseconds; Python takes micro: cut.
        head, frac = (t[:-1].split(".") + [""])[:2] if t.endswith("Z") else (None, None)
        if head is None:
            return "time is not UTC RFC 3339"
        parsed = datetime.datetime.fromisoformat(head + ("." + frac[:6] if frac else "") + "+00:00")
        if parsed.timestamp() == 0:
            return "zero time"
    except ValueError:
        return "bad time"
    if not isinstance(p.get("output_fields"), dict) or not p["output_fields"]:
        return "empty output_fields"
    if not isinstance(p.get("output"), str) or not p["output"]:
        return "empty output"
    if "tags" in p and not (isinstance(p["tags"], list) and all(isinstance(x, str) for x in p["tags"])):
        return "tags is not a list of strings"
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self.answer(200, "pong\n")
        else:
            self.answer(400, "POST only\n")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = json.loads(body)
            why = check(payload)
        except ValueError:
            why = "body is not JSON"
        if self.path != "/":
            why = "unknown path " + self.path
        if self.headers.get("Content-Type") != "application/json":
            why = "content type is not application/json"
        target = ACCEPTED + (".rejected" if why else "")
        with open(target, "a") as f:
            f.write((body.decode(errors="replace") if why else json.dumps(payload)) + "\n")
        self.answer(400 if why else 200, (why or "ok") + "\n")


ACCEPTED = sys.argv[1]
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
