"""The history of the schema: Alembic migrations of the store's and the desk's tables, one
history for their one database (this package is the lowest that sees both models).

A new database gets the current tables whole, with the head of the history recorded
(``create_schema``: a ``Store`` opening an empty database calls it through the
``crisiswatch.schema`` entry point). ``upgrade`` brings any other to the head, under the
schema lock: every command does when it opens a home, and ``crisiswatch db upgrade``
does it by hand with a report. A database with tables but no revision was made before the
history began (release 0.1.0 or older); its first revision brings it up to 0.1.0.

A change of the models needs a revision in ``versions/`` (the migration test compares the
models with what the history makes); Alembic writes its first draft:
``alembic.command.revision(config(connection), "what changed", autogenerate=True)``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Callable

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

from core.store import Base, schema_lock
from desk.tables import WorkflowBase

METADATA = (Base.metadata, WorkflowBase.metadata)
TABLES = frozenset(name for metadata in METADATA for name in metadata.tables)

log = logging.getLogger(__name__)


class NewerDatabase(RuntimeError):
    """The database is at a revision this release's history lacks: a newer release
    upgraded it. Nothing is changed; that release (or a newer one) opens it."""

    def __init__(self, revision: str):
        super().__init__(f"the database is at revision {revision}, which this release does not know "
                         f"(it is at {head()}): a newer release upgraded it; run that release or a newer one "
                         "(nothing was changed)")


def config(connection: Connection, say: Callable[[str], None] = log.warning) -> Config:
    """Alembic's configuration for this history on ``connection`` (read by ``env.py``)."""
    settings = Config()
    settings.set_main_option("script_location", str(Path(__file__).parent))
    settings.attributes.update(connection=connection, say=say)
    return settings


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(Path(__file__).parent))


def head() -> str:
    return _scripts().get_current_head()


def current(connection: Connection) -> str | None:
    """The revision the database is at; None before the history (new, or 0.1.0 and older)."""
    return MigrationContext.configure(connection).get_current_revision()


def known(revision: str | None) -> bool:
    """Whether ``revision`` is in this release's history (None, before it, is)."""
    try:
        return revision is None or _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def describe(revision: str | None) -> str:
    if revision is None:
        return "no revision (made by release 0.1.0 or older)"
    if not known(revision):
        return f"{revision} (unknown to this release: made by a newer release)"
    return f"{revision} ({_scripts().get_revision(revision).doc.rstrip('.')})"


def _is_new(connection: Connection) -> bool:
    return current(connection) is None and not TABLES & set(inspect(connection).get_table_names())


def _create(connection: Connection) -> None:
    for metadata in METADATA:
        metadata.create_all(connection)
    MigrationContext.configure(connection).stamp(_scripts(), "heads")


def _missing(connection: Connection) -> list[str]:
    return sorted(TABLES - set(inspect(connection).get_table_names()))


def _create_missing(connection: Connection, say: Callable[[str], None]) -> None:
    """Tables lost from a database at the head (dropped by hand, or a restore of part of
    it) are made again, empty, as release 0.1.0 made missing tables whenever it opened one."""
    missing = _missing(connection)
    if missing:
        for metadata in METADATA:
            tables = [metadata.tables[name] for name in missing if name in metadata.tables]
            metadata.create_all(connection, tables=tables)
        say(f"created the missing tables {', '.join(missing)} at {describe(head())}")


def create_schema(engine: Engine) -> None:
    """Give a new database every table at the head of the history; leave one that has
    tables to ``upgrade``."""
    with schema_lock(engine) as connection:
        if _is_new(connection):
            _create(connection)


def upgrade(engine: Engine, say: Callable[[str], None] = log.warning) -> list[str]:
    """Bring the database to the head of the history, telling ``say`` each step; returns
    the revisions applied (none when it was at the head already). ``NewerDatabase`` when a
    newer release has upgraded it."""
    with engine.connect() as connection:  # the common case, without taking the lock
        if current(connection) == head() and not _missing(connection):
            return []
    with schema_lock(engine) as connection:
        at = current(connection)
        if at == head():
            _create_missing(connection, say)
            return []
        if not known(at):
            raise NewerDatabase(at)
        if _is_new(connection):
            _create(connection)
            say(f"created the tables of a new database at {describe(head())}")
            return [head()]
        pending = [script.revision for script in reversed(list(_scripts().iterate_revisions("heads", at)))]
        say(f"upgrading the database from {describe(at)} to {head()}: {len(pending)} step(s)")
        command.upgrade(config(connection, say), "heads")
        return pending
