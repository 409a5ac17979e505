"""The audit log: every action appended as an entry whose hash covers its content and
the previous entry's hash, so that changing, removing or reordering any entry breaks
the chain from there on, and ``verify`` says where.

A chain alone proves nothing to whoever can write the database: they can edit an entry
and recompute every later hash, or delete the newest entries. So the log is anchored
outside the database, in the home (``keep``):

- ``audit.key`` (mode 0600) keys each entry's hash (HMAC-SHA256): without it an edited
  entry cannot be re-hashed. It is made the first time the home's workflow sessions are
  opened. Entries already in the log then (up to ``keyed_after``, recorded in the key
  file) keep their plain SHA-256 hashes; an anchor written at once pins their head, and
  the first keyed entry's HMAC covers it too, so they cannot be changed either.
- ``audit-anchors.jsonl`` is appended a line (time, entries, last id, head hash) after a
  commit once ``ANCHOR_EVERY`` entries or ``ANCHOR_INTERVAL`` have passed since the last
  anchor (a timer, or the end of the process, writes one that is still due), and
  whenever the whole log verifies or is exported. ``verify`` checks the log against
  every anchor: an anchored entry replaced, or entries missing from the end.

Only the newest entries, since the last anchor, could be removed unnoticed: at most
``ANCHOR_EVERY`` of them, made within ``ANCHOR_INTERVAL``.

Appends are serialised by the database: ``record`` takes the workflow lock before it
reads the chain's head, so two writers cannot both extend one head. A workflow action
takes the same lock before it reads anything (``lock``), so two actions on one release
(two approvals at once, two publishers finishing its last deliveries) run one after the
other and the second sees what the first wrote.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.schema import CHINA_TZ
from core.store import utcnow
from desk.tables import AuditEntry, WorkflowLock

GENESIS = "0" * 64
KEY_FILE = "audit.key"
ANCHORS_FILE = "audit-anchors.jsonl"
ANCHOR_EVERY = 100  # entries
ANCHOR_INTERVAL = timedelta(minutes=1)
_FILES = "crisiswatch.audit"  # in Session.info: the home's AuditFiles
_RECORDED = "crisiswatch.audit.recorded"  # in Session.info: entries not yet committed

log = logging.getLogger(__name__)


def _digest(key: bytes | None, prev_hash: str, at: datetime, actor: str, org_id: int | None, action: str,
            target: str, detail: dict) -> str:
    content = json.dumps(
        {"prev": prev_hash, "at": at.isoformat(), "actor": actor, "org": org_id,
         "action": action, "target": target, "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    ).encode("utf-8")
    if key is None:  # an entry made before its home had a key
        return hashlib.sha256(content).hexdigest()
    return hmac.new(key, content, hashlib.sha256).hexdigest()


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
    files = session.info.get(_FILES)
    digest = _digest(files.key if files else None, prev, at, actor, org_id, action, target, detail)
    entry = AuditEntry(at=at, actor=actor, org_id=org_id, action=action, target=target, detail=detail,
                       prev_hash=prev, hash=digest)
    session.add(entry)
    session.flush()
    session.info[_RECORDED] = True
    return entry


# -- anchoring outside the database -----------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """The log as it stood at ``at``: so many entries, the last one's id and hash."""

    at: datetime  # naive UTC, as the database's times
    entries: int
    last_id: int
    head: str

    def line(self) -> str:
        return json.dumps({"at": self.at.isoformat(), "entries": self.entries, "last_id": self.last_id,
                           "head": self.head}) + "\n"

    @classmethod
    def parse(cls, line: str) -> Anchor:
        fields = json.loads(line)
        return cls(datetime.fromisoformat(fields["at"]), int(fields["entries"]), int(fields["last_id"]),
                   str(fields["head"]))

    def when(self) -> str:
        return self.at.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S China time")


def _head(connection, now: datetime) -> Anchor | None:
    """The log's state now, read in one statement (one snapshot on every database)."""
    count = select(func.count()).select_from(AuditEntry).scalar_subquery()
    row = connection.execute(select(count, AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc())
                             .limit(1)).first()
    return Anchor(now, *row) if row else None


class AuditFiles:
    """The key and the anchors of one home's audit log (see the module's doc)."""

    def __init__(self, home: Path, key: bytes, keyed_after: int):
        self.anchors_path = home / ANCHORS_FILE
        self.key, self.keyed_after = key, keyed_after
        self._timer: threading.Timer | None = None
        self._guard = threading.Lock()

    @classmethod
    def load(cls, home: Path) -> AuditFiles | None:
        path = home / KEY_FILE
        try:
            fields = json.loads(path.read_text(encoding="utf-8"))
            return cls(home, bytes.fromhex(fields["key"]), int(fields["keyed_after"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path} is not an audit key ({err!r}): restore it from a backup of the home") from None

    @classmethod
    def create(cls, home: Path, session: Session) -> AuditFiles:
        """Make the home's key under the workflow lock, so that no entry lands meanwhile,
        and anchor the entries made before it. If another process made one first, that
        one is used. Anchors without a key mean the key was lost: a new one could not
        verify the entries made under it, so none is made (``ValueError``)."""
        lock(session)
        path, anchors_path = home / KEY_FILE, home / ANCHORS_FILE
        if path.exists():
            return cls.load(home)
        if anchors_path.exists() and anchors_path.stat().st_size:
            raise ValueError(f"{path} is missing, but {anchors_path} holds anchors made with it: restore it from a "
                             f"backup of the home (or move {ANCHORS_FILE} away to start a new key; the entries "
                             "made with the lost one then no longer verify)")
        head = _head(session, utcnow())
        key, keyed_after = secrets.token_bytes(32), head.last_id if head else 0
        draft = home / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            out.write(json.dumps({"key": key.hex(), "keyed_after": keyed_after}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)  # fails if the key exists: never two keys
        except FileExistsError:
            return cls.load(home)
        finally:
            draft.unlink()
        files = cls(home, key, keyed_after)
        if head:
            files.append(head)
        return files

    def anchors(self) -> list[Anchor]:
        """Every anchor written; a line that is not one, or a file that cannot be read,
        is an error (``ValueError``, told by ``verify``)."""
        try:
            lines = self.anchors_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except OSError as err:
            raise ValueError(f"{self.anchors_path} cannot be read ({err.strerror})") from None
        anchors = []
        for number, line in enumerate(lines, 1):
            try:
                anchors.append(Anchor.parse(line))
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"line {number} of {self.anchors_path} is not an anchor") from None
        return anchors

    def last_written(self) -> Anchor | None:
        """The file's last anchor (read from its end: the file only grows)."""
        try:
            with open(self.anchors_path, "rb") as anchors:
                anchors.seek(max(0, anchors.seek(0, os.SEEK_END) - 4096))
                lines = anchors.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return None
        return Anchor.parse(lines[-1]) if lines else None

    def append(self, anchor: Anchor) -> None:
        with open(self.anchors_path, "a", encoding="utf-8") as anchors:
            fcntl.flock(anchors, fcntl.LOCK_EX)  # whole lines, whatever other processes write
            anchors.write(anchor.line())
            anchors.flush()
            os.fsync(anchors.fileno())

    def anchor_head(self, head: Anchor) -> Anchor:
        """Append ``head`` unless the last anchor already records it; the anchor that does."""
        last = self.last_written()
        if last is not None and (last.last_id, last.head) == (head.last_id, head.head):
            return last
        self.append(head)
        return head

    def anchor_if_due(self, engine: Engine, now: datetime | None = None, *, due: bool = False) -> None:
        """Anchor the committed log if ``ANCHOR_EVERY`` entries or ``ANCHOR_INTERVAL`` have
        passed since the last anchor (or ``due``); else have a timer do it when it is due."""
        now = now or utcnow()
        last = self.last_written()
        with engine.connect() as connection:
            last_id = connection.execute(select(func.max(AuditEntry.id))).scalar()
            if last_id is None or (last is not None and last_id == last.last_id):
                return
            if due or last is None or last_id - last.last_id >= ANCHOR_EVERY or now - last.at >= ANCHOR_INTERVAL:
                self.anchor_head(_head(connection, now))  # not None: the log has entries
                return
        self._later(engine, last.at + ANCHOR_INTERVAL - now)

    def _later(self, engine: Engine, delay: timedelta) -> None:
        with self._guard:
            if self._timer is None:
                self._timer = threading.Timer(delay.total_seconds(), self.finish, args=(engine,))
                self._timer.daemon = True
                self._timer.start()
                _waiting[self] = engine

    def finish(self, engine: Engine) -> None:
        """Write the anchor that is due (the timer's, or at the end of the process)."""
        with self._guard:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            _waiting.pop(self, None)
        if self.anchors_path.parent.exists():  # a home removed meanwhile (a test's) has nothing to anchor
            _quietly(self.anchor_if_due, engine, due=True)


_waiting: dict[AuditFiles, Engine] = {}  # anchors a timer will write; written at exit if still waiting


@atexit.register
def finish_waiting() -> None:
    """Write the anchors still waiting for their timer (at exit, or before their database goes)."""
    for files, engine in list(_waiting.items()):
        files.finish(engine)


def _quietly(anchor, *args, **kwargs) -> Anchor | None:
    """An anchor that cannot be written is logged (and None returned): the commit, the
    verification or the export it follows has happened."""
    try:
        return anchor(*args, **kwargs)
    except (OSError, ValueError, SQLAlchemyError) as err:
        log.error("the audit log's anchor was not written: %s", err)
        return None


def keep(sessions: sessionmaker, home: Path) -> AuditFiles:
    """Key and anchor the audit log of ``sessions``' database in ``home`` (the key is made
    now if the home has none): every session made by ``sessions`` records keyed entries,
    verifies with the key and the anchors, and anchors what it commits when due."""
    files = AuditFiles.load(home)
    if files is None:
        with sessions.begin() as session:
            files = AuditFiles.create(home, session)
    sessions.configure(info={_FILES: files})
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_rollback", lambda session: session.info.pop(_RECORDED, None))
    return files


def _after_commit(session: Session) -> None:
    if session.info.pop(_RECORDED, False):
        _quietly(session.info[_FILES].anchor_if_due, session.get_bind())


def anchor(session: Session) -> Anchor | None:
    """Anchor the log as ``session`` reads it (an export's last entry is then anchored)."""
    files = session.info.get(_FILES)
    if files is None:
        return None
    head = _head(session, utcnow())
    return _quietly(files.anchor_head, head) if head else None


# -- checking ---------------------------------------------------------------------------


@dataclass
class Verification:
    entries: int
    ok: bool
    broken_at: int | None = None  # the id of the first entry that does not verify
    reason: str = ""
    missing: tuple[int, int] | None = None  # the first and last entry an anchor records but the log lacks
    anchor: Anchor | None = None  # the anchor that records the most entries


def verify(session: Session) -> Verification:
    """Check the chain, each entry's hash (keyed where the home has a key) and the log
    against every anchor; when it all holds, the log as verified is anchored."""
    files: AuditFiles | None = session.info.get(_FILES)
    try:
        anchors = files.anchors() if files else []
    except ValueError as err:
        return Verification(0, False, reason=str(err))
    at_count = defaultdict(list)
    for item in anchors:
        at_count[item.entries].append(item)
    latest = max(anchors, key=lambda item: item.entries, default=None)
    prev, count, last = GENESIS, 0, None
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        count += 1
        if entry.prev_hash != prev:
            return Verification(count, False, entry.id, "its previous hash is not the hash of the entry before it",
                                anchor=latest)
        key = files.key if files and entry.id > files.keyed_after else None
        if entry.hash != _digest(key, entry.prev_hash, entry.at, entry.actor, entry.org_id, entry.action,
                                 entry.target, entry.detail or {}):
            what = "its keyed hash (HMAC)" if key else "its hash"
            return Verification(count, False, entry.id, f"its content does not match {what}", anchor=latest)
        for item in at_count.get(count, ()):
            if (item.last_id, item.head) != (entry.id, entry.hash):
                return Verification(count, False, entry.id, f"the anchor of {item.when()} records another entry "
                                    f"{count}: entries up to it were removed or replaced", anchor=latest)
        prev, last = entry.hash, entry
    if latest is not None and count < latest.entries:
        first = count + 1
        span = f"entry {first}" if first == latest.entries else f"entries {first}-{latest.entries}"
        return Verification(count, False, reason=f"{span} missing: the anchor of {latest.when()} records "
                            f"{latest.entries} entries, the log has {count}", missing=(first, latest.entries),
                            anchor=latest)
    result = Verification(count, True, anchor=latest)
    if files and last is not None and not session.info.get(_RECORDED):  # nothing uncommitted: anchor what verified
        result.anchor = _quietly(files.anchor_head, Anchor(utcnow(), count, last.id, last.hash)) or latest
    return result


def export(session: Session):
    """Every entry as a plain dict, oldest first (JSON Lines for the admin's download)."""
    for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
        yield {"id": entry.id, "at": entry.at.replace(tzinfo=timezone.utc).isoformat(), "actor": entry.actor,
               "org_id": entry.org_id, "action": entry.action, "target": entry.target, "detail": entry.detail,
               "prev_hash": entry.prev_hash, "hash": entry.hash}
