"""What the blueprints share: the store, the index, the topic names and the workflow's
sessions, kept on the app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import sessionmaker

from core.settings import Settings
from core.store import Store
from indexes.backends import IndexBackend

EXTENSION = "crisiswatch"


@dataclass
class Services:
    settings: Settings
    store: Store
    index: IndexBackend
    topic_labels: dict[str, tuple[str, str]]  # label -> (zh, en), in taxonomy order
    sessions: sessionmaker  # the workflow's tables: ``with services().sessions.begin() as db: ...``


def services() -> Services:
    return current_app.extensions[EXTENSION]
