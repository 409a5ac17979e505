"""``crisiswatch bench load``: logged-in users on the review UI, served as ``crisiswatch serve`` serves it.

A temporary home gets the demo's slice of the real Weibo corpus (imported and indexed,
not timed) and one analyst per simulated user. The server runs as its own process, so
that the users' HTTP clients do not share its interpreter. Each user logs in through the
login form, as a browser does, and then, until the time is up, opens a search page, one
of its posts and the same search through ``/api/search``, pausing a *think time* between
clicks (random, ``think`` seconds on average; 0 for clients that never pause).
Latency is measured from the request sent to the whole response read.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from core import segment
from core.settings import Settings
from core.store import Store
from crisiswatch.demo import SAMPLE_FILES
from crisiswatch.importer import import_files
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending

SEED = 20200119
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare_home(settings: Settings, data_dir: Path, users: int, limit: int | None) -> tuple[list[str], str]:
    """Import and index the sample, make the users; returns the query words and the users' password."""
    from desk import accounts
    from desk.database import open_sessions

    files = [data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [path for path in files if path.exists()]
    if not files:
        raise FileNotFoundError(f"no corpus at {data_dir / 'weibo_covid_2020'} (set CRISISWATCH_DATA)")
    store = Store(settings.database_url)
    try:
        import_files(store, files, limit=limit)
        index_pending(store, EmbeddedIndex(settings.index_dir))
        counts = Counter(w for text in store.all_texts() for w in set(segment.query_terms(text))
                         if len(w) >= 2 and not w.isascii())
        password = secrets.token_urlsafe(16)
        with open_sessions(store.engine, settings.home).begin() as session:
            org = accounts.create_organisation(session, "基准测试", "government", "department")
            for number in range(users):
                accounts.create_user(session, f"bench-{number}", f"bench {number}", password, org, ["analyst"])
    finally:
        store.close()
    return [word for word, _ in counts.most_common(200)], password


class User:
    """One browser: its own cookie, one keep-alive connection, and the latencies it saw."""

    def __init__(self, port: int, username: str):
        self.username = username
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.sent = 0
        self.latencies: list[float] = []
        self.errors: Counter = Counter()

    def request(self, path: str, form: dict | None = None, timed: bool = True) -> tuple[int, str]:
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if timed:
            self.sent += 1
        start = time.perf_counter()
        try:
            self.connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
            response = self.connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as err:
            self.connection.close()  # reconnects on the next request
            if timed:
                self.errors[type(err).__name__] += 1
            return 0, ""
        if timed:
            self.latencies.append((time.perf_counter() - start) * 1000)
            if response.status >= 400:
                self.errors[f"HTTP {response.status}"] += 1
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.will_close:
            self.connection.close()
        return response.status, text

    def log_in(self, password: str) -> None:
        _, page = self.request("/login", timed=False)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        status, _ = self.request("/login", {"csrf_token": token.group(1) if token else "", "username": self.username,
                                            "password": password}, timed=False)
        if status != 303:
            raise RuntimeError(f"{self.username} could not log in (HTTP {status})")

    def browse(self, words: list[str], until: float, think: float, rng: random.Random) -> None:
        """Search, open a post of the results, ask the API the same; until the time is up."""
        time.sleep(rng.uniform(0, think))  # users arrive one by one, not all in the same millisecond
        while time.monotonic() < until:
            query = urllib.parse.urlencode({"q": rng.choice(words)})
            _, page = self.request(f"/?{query}")
            ids = re.findall(r'href="/posts/(\d+)"', page)
            for path in ([f"/posts/{rng.choice(ids)}"] if ids else []) + [f"/api/search?{query}"]:
                time.sleep(rng.uniform(0, 2 * think))
                if time.monotonic() >= until:
                    return
                self.request(path)
            time.sleep(rng.uniform(0, 2 * think))


def _start_server(settings: Settings, port: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "crisiswatch", "serve", "--home", str(settings.home), "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not start on port {port} within {START_TIMEOUT_S} s")


def _percentile(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1] if len(values) > 1 else values[0]


def bench_load(data_dir: Path, users: int, seconds: float, think: float = 1.0, limit: int | None = None,
               say=print) -> dict:
    home = Path(tempfile.mkdtemp(prefix="crisiswatch-bench-"))
    try:
        settings = Settings.load(home).ensure_home()
        say("importing and indexing the sample (not timed)")
        words, password = _prepare_home(settings, data_dir, users, limit)
        port = _free_port()
        with (home / "logs" / "serve.log").open("ab") as log:
            server = _start_server(settings, port, log)
            try:
                clients = [User(port, f"bench-{n}") for n in range(users)]
                say(f"logging in {users} users")
                for client in clients:
                    client.log_in(password)
                say(f"{users} users browsing for {seconds:g} s")
                until = time.monotonic() + seconds
                start = time.perf_counter()
                threads = [threading.Thread(target=c.browse, args=(words, until, think, random.Random(SEED + n)))
                           for n, c in enumerate(clients)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.perf_counter() - start
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
        latencies = [ms for c in clients for ms in c.latencies]
        errors = sum((c.errors for c in clients), Counter())
        return {
            "users": users,
            "think_s": think,
            "requests": sum(c.sent for c in clients),
            "errors": sum(errors.values()),
            "error_kinds": dict(errors),
            "requests_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(_percentile(latencies, 50), 1) if latencies else None,
            "p95_ms": round(_percentile(latencies, 95), 1) if latencies else None,
            "p99_ms": round(_percentile(latencies, 99), 1) if latencies else None,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)
