"""The audit log: every action appended as an entry whose hash covers its content and
the previous entry's hash, so that changing, removing or reordering any entry breaks
the chain from there on, and ``verify`` says where.

Appends are serialised by the database: ``record`` takes the workflow lock before it
reads the chain's head, so two writers cannot both extend one head. A workflow action
takes the same lock before it reads anything (``lock``), so two actions on one release
(two approvals at once, two publishers finishing its last deliveries) run one after the
other and the second sees what the first wrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.store import utcnow
from review_ui.workflow.tables import AuditEntry, WorkflowLock

GENESIS = "0" * 64


def _digest(prev_hash: str, at: datetime, actor: str, org_id: int | None, action: str, target: str, detail: dict) -> str:
    content = json.dumps(
        {"prev": prev_hash, "at": at.isoformat(), "actor": actor, "org": org_id,
         "action": action, "target": target, "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def lock(session: Session) -> None:
    """Hold the workflow lock until this transaction ends: a row lock on PostgreSQL, the
    database's write lock on SQLite (where a write is what takes it). Take it before
    reading what the transaction will decide on."""
    session.execute(update(WorkflowLock).where(WorkflowLock.id == 1).values(taken=WorkflowLock.taken + 1))


def record(session: Session, actor: str, action: str, target: str = "", detail: dict | None = None,
           org_id: int | None = None) -> AuditEntry:
    """Append one entry (in the caller's transaction, so it lands with the change it records)."""
    lock(session)
    last = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    at = utcnow().replace(tzinfo=None)
    detail = json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str))  # as it will read back
    entry = AuditEntry(at=at, actor=actor, org_id=org_id, action=action, target=target, detail=detail,
                       prev_hash=prev, hash=_digest(prev, at, actor, org_id, action, target, detail))
    session.add(entry)
    session.flush()
    return entry


@dataclass
class Verification:
    entries: int
    ok: bool
    broken_at: int | None = None  # the id of the first entry that does not verify
    reason: str = ""


def verify(session: Session) -> Verification:
    prev = GENESIS
    count = 0
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        count += 1
        if entry.prev_hash != prev:
            return Verification(count, False, entry.id, "its previous hash is not the hash of the entry before it")
        expected = _digest(entry.prev_hash, entry.at, entry.actor, entry.org_id, entry.action, entry.target,
                           entry.detail or {})
        if entry.hash != expected:
            return Verification(count, False, entry.id, "its content does not match its hash")
        prev = entry.hash
    return Verification(count, True)


def export(session: Session):
    """Every entry as a plain dict, oldest first (JSON Lines for the admin's download)."""
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        yield {"id": entry.id, "at": entry.at.replace(tzinfo=timezone.utc).isoformat(), "actor": entry.actor,
               "org_id": entry.org_id, "action": entry.action, "target": entry.target, "detail": entry.detail,
               "prev_hash": entry.prev_hash, "hash": entry.hash}
