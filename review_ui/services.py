"""What the blueprints share: the store, the index and the topic names, kept on the app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from core.settings import Settings
from core.store import Store

EXTENSION = "crisiswatch"


@dataclass
class Services:
    settings: Settings
    store: Store
    index: object  # an index backend (indexes.backends.open_index)
    topic_labels: dict[str, tuple[str, str]]  # label -> (zh, en), in taxonomy order


def services() -> Services:
    return current_app.extensions[EXTENSION]
