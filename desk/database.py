"""The desk's tables on the store of record's engine, and sessions on them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from core.store import insert_for
from desk import audit, migrations
from desk.tables import WorkflowLock


def create_tables(engine: Engine) -> None:
    """Bring ``engine``'s database to the head of the migration history (a new one gets
    every table), with the one row of the workflow's lock."""
    migrations.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert_for(engine.dialect.name)(WorkflowLock.__table__).values(id=1, taken=0)
                     .on_conflict_do_nothing())


def open_sessions(engine: Engine, home: Path | None = None) -> sessionmaker:
    """The workflow's tables on ``engine`` (``create_tables``) and a factory of sessions on
    them. With the ``home`` of the database, the audit log is keyed and anchored there
    (``audit.keep``); every process that writes to a home's workflow must pass it."""
    create_tables(engine)
    sessions = sessionmaker(engine)
    if home is not None:
        audit.keep(sessions, home)
    return sessions
