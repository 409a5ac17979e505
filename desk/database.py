"""The desk's tables on the store of record's engine, and sessions on them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from desk import audit
from desk.tables import create_tables


def open_sessions(engine: Engine, home: Path | None = None) -> sessionmaker:
    """The workflow's tables on ``engine`` (created if missing) and a factory of sessions on
    them. With the ``home`` of the database, the audit log is keyed and anchored there
    (``audit.keep``); every process that writes to a home's workflow must pass it."""
    create_tables(engine)
    sessions = sessionmaker(engine)
    if home is not None:
        audit.keep(sessions, home)
    return sessions
