"""A static site on loopback: the demo's illustrative site, and replays of captured pages."""

from __future__ import annotations

import functools
import http.client
import sys
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEMO_SITE = Path(__file__).with_name("demo_site")
# The demo site keeps one address, so the ids of its pages (their URLs) stay the same
# from one crawl to the next.
DEMO_SITE_PORT = 8765
# Where a running demo serves the site, for the crawls it starts as child processes.
DEMO_SITE_ENV = "CRISISWATCH_DEMO_SITE"


class _Handler(SimpleHTTPRequestHandler):
    charset: str | None = "utf-8"
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/rss+xml",
        ".json": "application/json",
    }

    def guess_type(self, path):
        kind = super().guess_type(path)
        if self.charset and kind.startswith(("text/", "application/rss", "application/json")):
            return f"{kind}; charset={self.charset}"
        return kind

    def log_message(self, format, *args):  # keep the demo's console for the user
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that drops its connection mid-answer (a crawl stopped, a page closed) is
        no fault of the site: not a traceback on the demo's console."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset, broken pipe, aborted
            return
        super().handle_error(request, client_address)


def serve_directory(root: Path, host: str = "127.0.0.1", port: int = 0, charset: str | None = "utf-8"):
    """Serve ``root`` in a daemon thread; returns (server, base URL). Stop with ``server.shutdown()``."""
    handler = functools.partial(type("Handler", (_Handler,), {"charset": charset}), directory=str(root))
    server = _Server((host, port), handler)
    threading.Thread(target=server.serve_forever, name=f"loopback:{root.name}", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"


def demo_site(host: str = "127.0.0.1", port: int = DEMO_SITE_PORT):
    """Serve the bundled demo site; (None, URL) when a demo already serves it there. A port
    taken by anything else is an ``OSError`` that says so (every crawl of it would fail)."""
    try:
        return serve_directory(DEMO_SITE, host, port)
    except OSError as err:
        url = f"http://{host}:{port}"
        if not _serves_demo_site(url):
            raise OSError(f"port {port} on {host} is in use by something that is not the demo site: "
                          "stop it, then start the demo again") from err
        return None, url


def _serves_demo_site(url: str) -> bool:
    """Whether ``url`` answers with the demo site's home page."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever the proxy settings
    try:
        with direct.open(f"{url}/index.html", timeout=5) as response:
            return response.read() == (DEMO_SITE / "index.html").read_bytes()
    except (OSError, ValueError, http.client.HTTPException):  # refused, an HTTP error, a timeout, not HTTP
        return False
