"""The publishing outbox: a scheduled release goes to every channel of every organisation
that signed it, all due at the release's one scheduled time (a joint release is
coordinated), and is retried until it is delivered.

**Channels** are configured in ``<home>/channels.toml`` (see ``channels.example.toml``
beside this module), per organisation by its name::

    [[organisation]]
    name = "滨海市人民政府新闻办公室"

    [[organisation.channel]]
    name = "website"                       # letters, digits, "-" and "_"; unique per organisation
    kind = "webhook"
    url = "https://www.example.gov.cn/hooks/releases"
    secret = "a long random string"        # shared with the receiver; never logged

    [[organisation.channel]]
    name = "archive"
    kind = "file"
    folder = "exports/government"          # relative to the channels file; created if missing

Each kind of channel (``kind``) is a transmitter registered in ``desk.transmitters``,
which says how a webhook and a file channel are sent to.

**Payload**: one JSON object, UTF-8, ``ensure_ascii=False`` (see ``payload``).

**Retries**: a failed attempt is retried after 30 s, doubling up to 1 h; after
``MAX_ATTEMPTS`` the delivery is ``failed`` and stays in the outbox until an admin
``retry``s it, so a release is never lost. A release is published when every one of its
deliveries is delivered. Delivery is at least once: an attempt is claimed first (the row
is ``sending`` and its next attempt pushed ``LEASE`` ahead, renewed every ``RENEW_EVERY``
while the attempt lasts), so two publishers do not send one delivery at once, a release
being sent cannot be unscheduled, and a publisher killed mid-attempt leaves it to be
sent again once its lease runs out, within a minute, with the same ``delivery_id`` (a
receiver that has it already drops the copy). Unscheduling marks the undelivered rows
``cancelled`` (they stay as the record) and scheduling again adds new ones: a delivery
id is never used for two texts.

**Checked again when due**: the fact sheet may have changed since the release was
scheduled. Before its deliveries are attempted the release passes the pre-publication
checks again; while a blocking problem stands its due deliveries are ``held`` (not sent,
the problems in ``last_error`` and on the release page) and they go out at the first run
after the problem is gone (the fact sheet changed back, or the release unscheduled,
corrected and scheduled again). A release that a channel has already is not held: its
text is public, it cannot be unscheduled, and it is corrected once all channels have it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import tomllib
import urllib.error
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.store import naive_utc, utcnow
from desk import audit, rules
from desk.checks import blocking, message
from desk.drills import mark
from desk.releases import mark_published, problems
from desk.rules import Invalid, InvalidTransition
from desk.states import DeliveryStatus, ReleaseState
from desk.tables import AuditEntry, Delivery, Organisation, Release, Version
from desk.transmitters import TRANSMITTERS, Channel, ChannelConfigError, Place

MAX_ATTEMPTS = 10
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
LEASE = timedelta(seconds=60)  # how long a publisher that stopped answering holds a delivery
RENEW_EVERY = timedelta(seconds=20)  # how often a publisher still sending pushes its lease on
MIN_SECRET = 6  # the shortest secret masked in errors
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # it becomes part of a file name

log = logging.getLogger(__name__)


def load_channels(path: Path) -> dict[str, list[Channel]]:
    """Each organisation's channels, by organisation name."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChannelConfigError("missing", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ChannelConfigError("toml", path=path, error=str(err)) from None
    extra = set(data) - {"organisation"}
    if extra:
        raise ChannelConfigError("top_keys", path=path, keys=sorted(extra))
    organisations = data.get("organisation", [])
    if not isinstance(organisations, list):
        raise ChannelConfigError("orgs_not_tables", path=path)
    channels: dict[str, list[Channel]] = {}
    for number, org in enumerate(organisations, 1):
        where = Place(path, org=number)
        if not isinstance(org, dict):
            raise ChannelConfigError("org_not_table", where=where)
        name = org.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ChannelConfigError("org_name", where=where)
        if name in channels:
            raise ChannelConfigError("org_twice", where=where, name=name)
        where = replace(where, org_name=name)
        extra = set(org) - {"name", "channel", "daily_report"}
        if extra:
            raise ChannelConfigError("org_keys", where=where, keys=sorted(extra))
        entries = org.get("channel", [])
        if not isinstance(entries, list):
            raise ChannelConfigError("channels_not_tables", where=where)
        channels[name] = [_channel(entry, replace(where, channel=n), path.resolve().parent)
                          for n, entry in enumerate(entries, 1)]
        names = [c.name for c in channels[name]]
        if len(set(names)) != len(names):
            raise ChannelConfigError("channel_names", where=where, names=names)
    return channels


def daily_report_channels(path: Path) -> dict[str, list[str]]:
    """The channels each organisation names for the scheduled daily report (its
    ``daily_report = ["duty-mail", ...]``: channels of the organisation that take notices,
    each named once), by organisation name. A wrong list is logged and names none: it keeps
    only its organisation's report from being sent, never the alerts or releases, for which
    ``load_channels`` (raising for the rest of the file) does not check it."""
    channels = load_channels(path)
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    named = {}
    for number, org in enumerate(data.get("organisation", []), 1):
        listed = org.get("daily_report")
        if not listed:
            continue
        takers = [c.name for c in channels[org["name"]] if TRANSMITTERS[c.kind].takes_notices]
        if isinstance(listed, list) and all(isinstance(n, str) and n in takers for n in listed):
            named[org["name"]] = list(dict.fromkeys(listed))
        else:
            named[org["name"]] = []
            log.warning("the daily report of %s is made but sent nowhere: %s", org["name"], ChannelConfigError(
                "daily_report", where=Place(path, org=number, org_name=org["name"]), names=listed, channels=takers))
    return named


def _channel(entry: dict, where: Place, base: Path) -> Channel:
    if not isinstance(entry, dict):
        raise ChannelConfigError("channel_not_table", where=where)
    name, kind = entry.get("name"), entry.get("kind")
    if not isinstance(name, str) or not CHANNEL_NAME.match(name):
        raise ChannelConfigError("channel_name", where=where, name=name)
    where = replace(where, channel_name=name)
    transmitter = TRANSMITTERS.get(kind) if isinstance(kind, str) else None
    if transmitter is None:
        raise ChannelConfigError("channel_kind", where=where, kinds=", ".join(TRANSMITTERS), kind=kind)
    extra = set(entry) - {"name", "kind", *transmitter.keys}
    if extra:
        raise ChannelConfigError("channel_keys", where=where, keys=sorted(extra), kind=kind)
    return transmitter.channel(name, entry, where, base)


# -- the outbox rows ---------------------------------------------------------------------


def enqueue(session: Session, release: Release, channels: dict[str, list[Channel]]) -> list[str]:
    """Put the release in the outbox for every channel of every organisation that signed
    it, all due at its scheduled time; again (e.g. after a new time) updates the pending
    rows' time and adds only what is missing. Returns the names of the organisations
    that have no channel, which therefore receive nothing."""
    if release.scheduled_at is None:
        raise ValueError(f"release {release.id} has no scheduled time")
    due = naive_utc(release.scheduled_at)
    existing = {(d.org_id, d.channel): d for d in _deliveries(session, release.id)
                if d.status != DeliveryStatus.CANCELLED}
    without = []
    for org in _organisations(session, release):
        if not channels.get(org.name):
            without.append(org.name)
        for channel in channels.get(org.name, []):
            known = existing.get((org.id, channel.name))
            if known is None:
                session.add(Delivery(release_id=release.id, org_id=org.id, channel=channel.name, due_at=due))
            elif known.status == DeliveryStatus.PENDING:
                known.due_at = due
    session.flush()
    return without


def schedule_deliveries(session: Session, release: Release, channels_file: Path) -> list[str]:
    """Scheduling's part in the outbox (``desk.releases.schedule``'s ``enqueue``): the
    release queued for every channel of its organisations in ``channels_file``; refused
    (``Invalid``) when the file is wrong or none of them has a channel, as the release
    would stay scheduled for ever. Returns the organisations without a channel."""
    try:
        channels = load_channels(channels_file)
    except ChannelConfigError as err:
        raise Invalid("channels_file", error=err) from None
    without = enqueue(session, release, channels)
    if not session.execute(select(func.count()).select_from(Delivery).where(
            Delivery.release_id == release.id, Delivery.status != DeliveryStatus.CANCELLED)).scalar():
        raise Invalid("no_channel", path=channels_file)
    return without


def cancel(session: Session, release: Release, now: datetime | None = None) -> int:
    """Take the release's undelivered rows (pending or failed) out of the outbox, e.g.
    when it is unscheduled: they become ``cancelled``. Refused while a publisher is
    sending one (the caller holds the workflow lock, which claims take too). Returns how
    many."""
    now = naive_utc(now) or utcnow()
    rows = Delivery.release_id == release.id
    sending = session.execute(select(func.count()).select_from(Delivery).where(
        rows, Delivery.status == DeliveryStatus.SENDING, Delivery.next_attempt_at > now)).scalar()
    if sending:
        raise InvalidTransition("sending_now")
    result = session.execute(moved("cancel", rows, next_attempt_at=None))
    return result.rowcount


def retry(session: Session, delivery_id: int, actor: str = "system") -> Delivery:
    """Send a failed delivery again at the next run, with a fresh count of attempts."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or not rules.move_delivery(delivery, "retry"):
        raise InvalidTransition("not_failed", delivery=delivery_id)
    delivery.attempts, delivery.next_attempt_at = 0, None
    audit.record(session, actor, "delivery_retry", f"release:{delivery.release_id}",
                 {"delivery": delivery.id, "channel": delivery.channel}, org_id=delivery.org_id)
    session.flush()
    return delivery


@dataclass
class DeliveryLine:
    id: int
    org: str
    channel: str
    status: DeliveryStatus
    attempts: int
    last_error: str
    due_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def status(session: Session, release: Release) -> list[DeliveryLine]:
    """Where each of the release's deliveries stands, by organisation and channel."""
    rows = session.execute(
        select(Delivery, Organisation.name).join(Organisation, Organisation.id == Delivery.org_id)
        .where(Delivery.release_id == release.id).order_by(Organisation.name, Delivery.channel)
    ).all()
    return [DeliveryLine(d.id, org, d.channel, d.status, d.attempts, d.last_error or "", d.due_at,
                         d.next_attempt_at, d.delivered_at) for d, org in rows]


def due(session: Session, now: datetime | None = None) -> list[Delivery]:
    """The deliveries to attempt now (of releases still scheduled), oldest first: pending
    and held ones, and those whose publisher's lease ran out mid-attempt."""
    now = naive_utc(now) or utcnow()
    return list(session.execute(
        select(Delivery).join(Release, Release.id == Delivery.release_id)
        .where(Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.HELD)),
               Delivery.due_at <= now, Release.state == ReleaseState.SCHEDULED,
               (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now))
        .order_by(Delivery.due_at, Delivery.id)
    ).scalars())


def moved(step: str, *where, table=Delivery, **values):
    """The UPDATE that takes a delivery step (``rules.DELIVERY_STEPS``) for every delivery
    (a row of ``table``: this outbox's or the alert outbox's) matching ``where`` whose status
    the step starts from."""
    sources, target = rules.DELIVERY_STEPS[step]
    return update(table).where(*where, table.status.in_(sources)).values(status=target, **values)


def _deliveries(session: Session, release_id: int) -> list[Delivery]:
    return list(session.execute(select(Delivery).where(Delivery.release_id == release_id)).scalars())


def _organisations(session: Session, release: Release) -> list[Organisation]:
    orgs = []
    for org_id in release.required_org_ids:
        org = session.get(Organisation, org_id)
        if org is None:
            raise ValueError(f"release {release.id} names organisation {org_id}, which does not exist")
        orgs.append(org)
    return orgs


# -- delivering --------------------------------------------------------------------------


@dataclass
class DeliveryResult:
    delivery_id: int
    release_id: int
    org: str
    channel: str
    status: DeliveryStatus  # delivered; pending (to be retried at next_attempt_at); failed
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None


@dataclass
class DeliveryReport:
    results: list[DeliveryResult] = field(default_factory=list)
    published: list[int] = field(default_factory=list)  # releases fully delivered in this run
    held: dict[int, list[str]] = field(default_factory=dict)  # release -> why it was not sent

    @property
    def failed_attempts(self) -> int:
        return sum(1 for r in self.results if r.status != DeliveryStatus.DELIVERED)

    def why_held(self) -> dict[int, str]:
        """Why each held release was not sent, in English (the log, the command line)."""
        return {release_id: "it contradicts the fact sheet now: " + "; ".join(reasons)
                for release_id, reasons in self.held.items()}


def run(session_factory: Callable[[], Session], channels_file: Path, now: datetime | None = None) -> DeliveryReport:
    """One run of a publisher: the channels file read (``ChannelConfigError`` when it is
    missing or wrong), then every delivery due at ``now`` attempted (``deliver_due``)."""
    return deliver_due(session_factory, load_channels(channels_file), now)


def deliver_due(session_factory: Callable[[], Session], channels: dict[str, list[Channel]],
                now: datetime | None = None) -> DeliveryReport:
    """Attempt every delivery due at ``now``, each claimed, sent and recorded in its own
    transactions; nothing is held open while a channel is being written to. Each
    release is checked again first (``_hold_if_blocked``). A lease runs from the moment
    of its claim (``now`` plus the time this run has taken so far)."""
    now = naive_utc(now) or utcnow()
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    report = DeliveryReport()
    with session_factory() as session:
        rows = [(d.id, d.release_id) for d in due(session, now)]
    sendable: dict[int, bool] = {}
    for delivery_id, release_id in rows:
        if release_id not in sendable:
            sendable[release_id] = not _hold_if_blocked(session_factory, release_id, now, report)
        if sendable[release_id] and _claim(session_factory, delivery_id, clock()):
            with lease_renewed(session_factory, delivery_id, clock):
                _attempt(session_factory, delivery_id, channels, now, report)
    return report


def _hold_if_blocked(session_factory, release_id: int, now: datetime, report: DeliveryReport) -> bool:
    """Check the release against the fact sheet (and the other side) as they are now. When
    a blocking problem stands, its due pending deliveries become ``held``, with the
    problems as their error, and True is returned; when none does, held ones are pending
    again. Each change is audited once (``release.held``, ``release.resumed``)."""
    with session_factory() as session, session.begin():
        audit.lock(session)
        release = session.get(Release, release_id)
        rows = Delivery.release_id == release_id
        out = session.execute(select(Delivery.id).where(rows, Delivery.status == DeliveryStatus.DELIVERED)
                              .limit(1)).first()
        found = [] if out else blocking(problems(session, release))
        if found:
            reasons = [message(problem) for problem in found]
            changed = session.execute(moved("hold", rows, Delivery.due_at <= now, next_attempt_at=None,
                                            last_error=_clip("held: " + "; ".join(reasons)))).rowcount
            if changed and _newly(session, "release.held", release_id):
                audit.record(session, "system", "release.held", f"release:{release_id}",
                             {"problems": [p.message_key for p in found]}, org_id=release.drafting_org_id)
            report.held[release_id] = reasons
            return True
        resumed = session.execute(moved("resume", rows, last_error="")).rowcount
        if resumed:
            audit.record(session, "system", "release.resumed", f"release:{release_id}", {},
                         org_id=release.drafting_org_id)
        return False


def _newly(session: Session, action: str, release_id: int) -> bool:
    """Whether the release's last hold-or-resume entry is not already ``action``."""
    last = session.execute(select(AuditEntry.action).where(
        AuditEntry.target == f"release:{release_id}", AuditEntry.action.in_(("release.held", "release.resumed")))
        .order_by(AuditEntry.id.desc()).limit(1)).scalar()
    return last != action


def _clip(text: str) -> str:
    return text if len(text) <= 1000 else text[:999] + "…"


def _claim(session_factory, delivery_id: int, now: datetime) -> bool:
    """Mark the delivery ``sending`` for a lease, unless another publisher did first."""
    with session_factory() as session, session.begin():
        audit.lock(session)  # not while the release is being unscheduled
        claimed = session.execute(moved(
            "claim", Delivery.id == delivery_id,
            (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at <= now), next_attempt_at=now + LEASE))
        return claimed.rowcount == 1


@contextmanager
def lease_renewed(session_factory, delivery_id: int, clock: Callable[[], datetime], table=Delivery):
    """While the block runs, push the claimed delivery's lease ``LEASE`` past ``clock()``
    every ``RENEW_EVERY`` (in a thread, in its own short transactions): a slow channel
    keeps its claim, a killed publisher's claim runs out a ``LEASE`` after its last renewal."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_EVERY.total_seconds()):
            try:
                with session_factory() as session, session.begin():
                    session.execute(update(table)
                                    .where(table.id == delivery_id, table.status == DeliveryStatus.SENDING)
                                    .values(next_attempt_at=clock() + LEASE))
            except SQLAlchemyError as err:  # the next renewal may get through; the send goes on
                log.warning("delivery %d: its lease was not renewed: %s", delivery_id, err)

    thread = threading.Thread(target=renew, name=f"outbox-lease-{delivery_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _attempt(session_factory, delivery_id: int, channels, now: datetime, report: DeliveryReport) -> None:
    with session_factory() as session:
        delivery = session.get(Delivery, delivery_id)
        org = session.get(Organisation, delivery.org_id)
        channel = next((c for c in channels.get(org.name, []) if c.name == delivery.channel), None)
        body = payload(session, delivery, now)
    if channel is None:
        error = f"no channel {delivery.channel!r} for {org.name} in the channels file"
    else:
        error = send(channel, body, delivery, now)
    with session_factory() as session, session.begin():
        audit.lock(session)  # another publisher may be finishing this release's other deliveries
        delivery = session.get(Delivery, delivery_id)
        if delivery.status == DeliveryStatus.DELIVERED:  # by another publisher, once this one's lease had run out
            log.warning("delivery %d was sent again after its lease ran out (delivered already)", delivery_id)
            return
        report.results.append(_record(session, delivery, org.name, error, now))
        if delivery.status == DeliveryStatus.DELIVERED and _all_delivered(session, delivery.release_id):
            mark_published(session, session.get(Release, delivery.release_id), now)
            report.published.append(delivery.release_id)


def _record(session: Session, delivery: Delivery, org: str, error: str | None, now: datetime) -> DeliveryResult:
    delivery.attempts += 1
    detail = {"delivery": delivery.id, "org": org, "channel": delivery.channel, "attempt": delivery.attempts}
    if error is None:
        rules.move_delivery(delivery, "deliver")
        delivery.delivered_at, delivery.next_attempt_at = now, None
        audit.record(session, "system", "deliver", f"release:{delivery.release_id}", detail, org_id=delivery.org_id)
    else:
        delivery.last_error = error
        if delivery.attempts >= MAX_ATTEMPTS:
            rules.move_delivery(delivery, "give_up")
            delivery.next_attempt_at = None
        else:
            rules.move_delivery(delivery, "postpone")
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        audit.record(session, "system", "delivery_failed", f"release:{delivery.release_id}",
                     {**detail, "error": error, "final": delivery.status == DeliveryStatus.FAILED},
                     org_id=delivery.org_id)
    session.flush()
    return DeliveryResult(delivery.id, delivery.release_id, org, delivery.channel, delivery.status,
                          delivery.attempts, error or "", delivery.next_attempt_at)


def backoff(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a delivery is tried again."""
    return min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)


def _all_delivered(session: Session, release_id: int) -> bool:
    return not session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.release_id == release_id,
        Delivery.status.not_in((DeliveryStatus.DELIVERED, DeliveryStatus.CANCELLED)))).scalar()


def payload(session: Session, delivery: Delivery, now: datetime) -> bytes:
    """What every channel receives: the release's latest text and what a receiver needs to
    place it (``channel`` is what the text was written for; ``destination`` is where this
    copy goes)."""
    release = session.get(Release, delivery.release_id)
    version = session.execute(select(Version).where(Version.release_id == release.id)
                              .order_by(Version.number.desc()).limit(1)).scalar_one()
    orgs = _organisations(session, release)
    destination = next(o for o in orgs if o.id == delivery.org_id)
    value = {
        "delivery_id": delivery.id,
        "release_id": release.id,
        "incident_id": release.incident_id,
        "kind": release.kind,
        "corrects_id": release.corrects_id,
        "channel": release.channel,
        "version": version.number,
        "title": mark(session) + version.title,  # a drill's release says so wherever it lands
        "body": version.body,
        "organisations": [{"id": o.id, "name": o.name, "kind": o.kind} for o in orgs],
        "scheduled_at": _iso(release.scheduled_at),
        "sent_at": _iso(now),
        "destination": {"organisation": destination.name, "channel": delivery.channel},
    }
    return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=timezone.utc).isoformat()


def send(channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> str | None:
    """Send the body with the transmitter of the channel's kind; None when it was
    delivered, else a short error."""
    return attempted(channel, lambda: TRANSMITTERS[channel.kind].send(channel, body, delivery, now))


def attempted(channel: Channel, sending: Callable[[], None]) -> str | None:
    """Call ``sending`` (a send or a notice to ``channel``): None when it went through,
    else a short error without the channel's secret."""
    try:
        sending()
    except urllib.error.HTTPError as err:
        return _short(f"HTTP {err.code} {err.reason}: {err.read(200).decode('utf-8', 'replace')}", channel)
    except urllib.error.URLError as err:
        return _short(f"cannot reach the webhook: {err.reason}", channel)
    except Exception as err:  # OSError, HTTPException, a value a header or URL cannot take: this attempt failed
        return _short(f"{type(err).__name__}: {err}", channel)
    return None


def _short(error: str, channel: Channel) -> str:
    """The error on one line, each whole occurrence of the channel's secret masked (one
    as short as a word of the message would not be a secret's)."""
    if len(channel.secret) >= MIN_SECRET:
        error = re.sub(rf"(?<![\w-]){re.escape(channel.secret)}(?![\w-])", "***", error)
    return " ".join(error.split())[:300]
