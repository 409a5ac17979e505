"""The release workflow in plain Python, testable without Flask: organisations and
users, incidents and their fact sheets, releases with their versions, approvals and
comments, the hash-chained audit log and the publishing outbox. The Flask blueprints
only call into it."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from review_ui.workflow.tables import create_tables


def open_sessions(engine: Engine) -> sessionmaker:
    """The workflow's tables on ``engine`` (created if missing) and a factory of sessions on them."""
    create_tables(engine)
    return sessionmaker(engine)
