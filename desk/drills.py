"""What leaves a drill's home says it is a drill: ``MARK`` (【演练】) before the titles of
its briefings, its alert notices and the releases it delivers, so that no reader takes
drill data for real wherever it lands (the review UI's banner says it on every page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from desk.tables import Replay

DRILL = "drill"  # the kind of replay a drill's home plays (desk.tables.REPLAY_KINDS)
MARK = "【演练】"


def mark(session: Session) -> str:
    """``MARK`` in a home whose replay (its newest, as ``desk.replay.current``) is a drill, else nothing."""
    kind = session.scalar(select(Replay.kind).order_by(Replay.id.desc()).limit(1))
    return MARK if kind == DRILL else ""
