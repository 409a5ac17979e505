"""A full disk, told apart from other failures, so that a command can say so in one line.

Every stage writes in transactions (the store) or commits (the index), so a write that
fails for want of space loses nothing already done and leaves nothing half-written: once
space is freed, running the command again finishes the work.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

_POSTGRES_DISK_FULL = "53100"
_RUST_NO_SPACE = ("os error 28", "StorageFull")  # how Tantivy's Rust io errors name ENOSPC


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it was raised from, is a full disk: ENOSPC from the
    OS, SQLite's SQLITE_FULL, PostgreSQL's disk_full, or Tantivy's io error."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
        # only the error's own short message: SQLAlchemy's would quote every parameter
        if type(error).__module__ == "builtins" and any(words in str(error) for words in _RUST_NO_SPACE):
            return True
        error = error.__cause__ or error.__context__
    return False


def disk_full_message(what: str, folder: Path) -> str:
    """One line: what stopped, where space is missing, and that a rerun finishes the work."""
    try:
        free = f"{shutil.disk_usage(folder).free / 2**20:.0f} MB free"
    except OSError:
        free = "free space unknown"
    return (f"{what} stopped: the disk holding {folder} is full ({free}). Free some space there "
            "(or use a home on a larger disk) and run it again: what was done is kept and the rest is done then.")
