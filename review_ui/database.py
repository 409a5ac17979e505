"""The request's database session, in Flask's ``g`` pattern: opened at its first use, the
same for every page part that reads the workflow's tables (an incident's page with its
releases and its alerts), closed when the request ends."""

from __future__ import annotations

from flask import g
from sqlalchemy.orm import Session

from desk.tables import User
from review_ui.services import services


def session() -> Session:
    if "session" not in g:
        g.session = services().sessions()
    return g.session


def actor() -> User:
    """The logged-in user's row: the workflow rules read its roles, organisation and state."""
    if "actor" not in g:
        g.actor = session().get(User, g.user.id)
    return g.actor


def close_session(_exc) -> None:
    opened = g.pop("session", None)
    if opened is not None:
        opened.close()


def init_app(app) -> None:
    app.teardown_appcontext(close_session)
