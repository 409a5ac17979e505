"""A loopback replay server for spider tests: routes from URL path and query to captured
pages, recording every request it answers (with its headers) so tests can check what a
crawl asked for."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

# Two captured feeds of ../shared/fixtures (RSS and Atom), replayed by the feed tests.
FEEDS = [
    "rss/Rodel.Reader/src/Utilities/FeedParser.Test/TestData/Rss/ruanyifeng.xml",
    "rss/Rodel.Reader/src/Utilities/FeedParser.Test/TestData/Atom/v2ex.xml",
]


@dataclass
class Route:
    path: str
    file: Path | None = None
    query: dict = field(default_factory=dict)  # these parameters must be present with these values
    content_type: str = "text/html; charset=utf-8"
    encoding: str | None = None  # serve a UTF-8 file re-encoded into this charset
    status: int = 200
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0  # seconds before the answer

    def matches(self, path: str, query: dict) -> bool:
        return path == self.path and all(query.get(k) == str(v) for k, v in self.query.items())

    def payload(self) -> bytes:
        data = self.body if self.body is not None else self.file.read_bytes()
        if self.encoding:
            data = data.decode("utf-8").encode(self.encoding, errors="xmlcharrefreplace")
        return data


@dataclass
class Seen:
    path: str
    query: dict
    headers: dict
    at: float  # time.monotonic() when it arrived


class Replay:
    """``with Replay(routes) as replay:`` serves on ``replay.url``; routes are tried in
    order (put specific ones first) and may be changed while it runs."""

    def __init__(self, routes: list[Route]):
        self.routes = list(routes)
        self.seen: list[Seen] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                replay.seen.append(Seen(parts.path, query, dict(self.headers), time.monotonic()))
                route = next((r for r in replay.routes if r.matches(parts.path, query)), None)
                if route is None:
                    self.send_error(404)
                    return
                time.sleep(route.delay)
                data = route.payload()
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.block_on_close = False  # closing does not wait for a delayed answer
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Replay":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def requests_to(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]
