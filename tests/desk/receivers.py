"""Receivers on loopback for the desk's tests: an HTTP server taking POSTs as a webhook
receiver or a WeCom or DingTalk robot does, and a mailbox behind a real SMTP server
(aiosmtpd). The fixtures that start them are in ``tests/desk/conftest.py``."""

from __future__ import annotations

import email
import json
import threading
import urllib.parse
from contextlib import contextmanager
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

SMTP_LOGIN = ("duty", "mail-password")  # what the SMTP server of the ``smtp_server`` fixture takes


class Receiver(ThreadingHTTPServer):
    """Records every POST (its ``path``, ``query``, ``headers``, ``raw`` body, JSON
    ``body`` and the ``status`` it answered) and answers ``status[path]`` (200 by
    default) with ``answers[path]`` (a robot's ``{"errcode": 0, ...}`` by default); an
    answer other than 200 says "receiver says no". "Down" is a port nothing listens on:
    ``serving(port)`` brings it up there later."""

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.received: list[dict] = []
        self.status: dict[str, int] = {}
        self.answers: dict[str, dict] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"

    def got(self, path: str) -> list[dict]:
        """The bodies POSTed to ``path`` that it took (answered 200)."""
        return [r["body"] for r in self.received if r["path"] == path and r["status"] == 200]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.status.get(url.path, 200)
        self.server.received.append({"path": url.path, "query": urllib.parse.parse_qs(url.query),
                                     "headers": dict(self.headers), "raw": raw,
                                     "body": json.loads(raw.decode("utf-8")), "status": status})
        answer = (json.dumps(self.server.answers.get(url.path, {"errcode": 0, "errmsg": "ok"})).encode()
                  if status == 200 else b"receiver says no")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@contextmanager
def serving(port: int = 0) -> Iterator[Receiver]:
    """A ``Receiver`` answering on ``port`` (any free one by default) until the block ends."""
    server = Receiver(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Mailbox:
    """aiosmtpd's handler: keeps each message as the server received it, with its recipients."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"
