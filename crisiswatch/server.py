"""The review UI's WSGI server: gunicorn, run from ``crisiswatch serve`` (and, as a child
process, from ``crisiswatch demo``).

gunicorn rather than waitress: the UI's Python work (query parsing, templates, the
store's rows) holds the GIL, so one process uses one core, and gunicorn's worker
processes use them all; it also restarts its workers gracefully on SIGHUP (each new
worker opens the store, the index and the models afresh) and writes an access log. Its
master forks the workers, which must not happen in a process running threads: the demo
keeps its scheduler and its site in its own process and starts this server as a child.
The workers share one count of failed logins (``review_ui.login_limits``).

Each worker is a ``gthread`` worker (see ``DrainingThreadWorker``): its threads overlap
the time a request waits on SQLite or on Tantivy (which releases the GIL), and
keep-alive connections stay open.
"""

from __future__ import annotations

import errno
import os
import socket

import click
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from core.settings import Settings


def default_workers() -> int:
    """One worker per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``: checked before ``serve`` or the
    demo starts anything (gunicorn would retry for 5 s; the demo's UI would fail to bind
    it only after the models trained). Here, not in the demo's module: ``serve`` would
    load scikit-learn and the scheduler with it (1.3 s) only to ask."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        return False  # an unknown host is the review UI's to report
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as err:  # any other failure (an address not of this machine) is the UI's to report
            return err.errno == errno.EADDRINUSE
    return False


class DrainingThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker, stopping gracefully without dropping a request.

    On SIGTERM (sent to the old workers on SIGHUP, and on shutdown) gthread ends its loop
    at once, and a connection it had accepted but whose request it had not read yet is
    closed unanswered (seen at every restart under load; gunicorn issue #3038). This one
    stops accepting, closes its idle keep-alive connections, answers every request it
    has taken on and only then stops (within the graceful timeout).
    """

    draining = False

    def handle_exit(self, sig, frame):
        self.draining = True  # acted on by the main loop, in murder_keepalived

    def murder_keepalived(self):
        if self.draining:
            with self._lock:
                for sock in self.sockets:
                    try:
                        self.poller.unregister(sock)
                    except KeyError:  # done at an earlier turn of the loop
                        pass
                for conn in self._keep:
                    conn.timeout = 0  # idle: closed below
        super().murder_keepalived()
        if self.draining and self.nr_conns == 0:
            self.alive = False


class ReviewServer(BaseApplication):
    """The review UI of ``settings``' home under gunicorn; each worker creates its own app."""

    def __init__(self, settings: Settings, options: dict):
        self.settings, self.options = settings, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from crisiswatch.stages import open_store
        from review_ui import create_app

        return warmed(create_app(self.settings, store=open_store(self.settings)))


def warmed(app):
    """Load now what a worker's first requests would otherwise wait for: the segmenter's
    dictionary (0.5 s), every template, compiled (0.2 s), and the index's searcher. A
    worker takes requests only after this, so a restart does not make the first users wait."""
    from indexes.errors import IndexUnavailable
    from indexes.query import SearchQuery
    from indexes.results import search
    from review_ui.services import EXTENSION

    for name in app.jinja_env.list_templates(extensions=["html"]):
        app.jinja_env.get_template(name)
    services = app.extensions[EXTENSION]
    try:
        search(services.store, services.index, SearchQuery(text="停电"))
    except IndexUnavailable:  # the pages say so; nothing to warm
        pass
    return app


def serve(settings: Settings, host: str, port: int, workers: int, threads: int, access_log: str) -> None:
    """Serve until SIGINT or SIGTERM (graceful: requests in flight finish); SIGHUP restarts the workers."""

    def ready(_arbiter) -> None:  # listening: a request now waits for the first worker, never refused
        click.secho(f"review UI on http://{host}:{port}/  (Ctrl-C to stop)", fg="green", bold=True)

    ReviewServer(settings, {
        "when_ready": ready,
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "crisiswatch.server.DrainingThreadWorker",
        "accesslog": access_log,
        "errorlog": "-",
        "proc_name": "crisiswatch-serve",
        "graceful_timeout": 10,
        "keepalive": 30,  # longer than a user's pause between clicks (at 5 s, 1 % of clicks met a closed connection)
        # the combined log format, and the time the request took
        "access_log_format": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms',
    }).run()
