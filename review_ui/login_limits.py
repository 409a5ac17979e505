"""Where failed logins are counted by default: a small SQLite file in the home, shared by
every worker process of the server.

Flask-Limiter's ``memory://`` storage lives in one process: under ``crisiswatch serve``,
with a gunicorn worker per core, each worker would count by itself and an address could
try the limit's number of passwords once per worker. This ``limits`` storage (scheme
``crisiswatch+sqlite://`` followed by the file's absolute path) keeps the moving window
of each address in one table instead; a login attempt costs a query or two.

A damaged file (not a database, or malformed) is set aside as ``<file>.damaged`` and
started afresh: it holds no more than the last window's failed logins, and kept as it is
it would fail every login and stop every worker from starting.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
from contextlib import contextmanager

from limits.storage import MovingWindowSupport, Storage

SCHEME = "crisiswatch+sqlite"
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
log = logging.getLogger(__name__)


def _starting_afresh_if_damaged(method):
    """Run ``method``; if the file proves damaged, set it aside and run it again on a new one."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as err:
            if getattr(err, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
                raise
            log.warning("%s is damaged (%s): set aside as %s.damaged, failed logins are counted afresh",
                        self.path, err, self.path)
            for suffix in ("-wal", "-shm"):  # a journal of the damaged file must not be replayed into the new one
                _remove(self.path + suffix)
            try:
                os.replace(self.path, self.path + ".damaged")
            except FileNotFoundError:  # another worker set it aside first
                pass
            self._create()
            return method(self, *args, **kwargs)

    return run


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class SQLiteStorage(Storage, MovingWindowSupport):
    """Moving windows only (the login limit's strategy): one row per counted attempt."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.removeprefix(f"{SCHEME}://")
        self._create()

    @_starting_afresh_if_damaged
    def _create(self) -> None:
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at)")

    @contextmanager
    def _connect(self):
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit; transactions said below
        try:
            yield db
        finally:
            db.close()

    @property
    def base_exceptions(self):
        return sqlite3.Error

    @_starting_afresh_if_damaged
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = time.time()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time: the count and the insert are one step
            db.execute("DELETE FROM hits WHERE expires <= ?", (now,))
            (count,) = db.execute("SELECT COUNT(*) FROM hits WHERE key = ? AND at > ?", (key, now - expiry)).fetchone()
            allowed = count + amount <= limit
            if allowed:
                db.executemany("INSERT INTO hits VALUES (?, ?, ?)", [(key, now, now + expiry)] * amount)
            db.execute("COMMIT")
        return allowed

    @_starting_afresh_if_damaged
    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(when the oldest attempt still in the window was made, how many there are)."""
        now = time.time()
        with self._connect() as db:
            oldest, count = db.execute("SELECT MIN(at), COUNT(*) FROM hits WHERE key = ? AND at > ?",
                                       (key, now - expiry)).fetchone()
        return (oldest or now), count

    @_starting_afresh_if_damaged
    def clear(self, key: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM hits WHERE key = ?", (key,))

    @_starting_afresh_if_damaged
    def reset(self) -> int:
        with self._connect() as db:
            return db.execute("DELETE FROM hits").rowcount

    @_starting_afresh_if_damaged
    def check(self) -> bool:
        with self._connect() as db:
            db.execute("SELECT 1 FROM hits LIMIT 1")
        return True

    # The fixed-window counters of the base class: not used by a moving-window limit.
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        raise NotImplementedError("this storage counts over a moving window only")

    def get(self, key: str) -> int:
        raise NotImplementedError("this storage counts over a moving window only")

    def get_expiry(self, key: str) -> float:
        raise NotImplementedError("this storage counts over a moving window only")
