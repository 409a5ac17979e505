"""The alert outbox: an alert's notices to the people and channels of its scheme.

When an alert is opened or its level rises (``desk.alerts.check``), ``queue`` adds a row
per recipient of its scheme (``AlertRecipient``: a channel of an organisation in
``<home>/channels.toml``, for a person or not). ``deliver_due`` sends each due row as a
``Notice`` with ``transmitters.notify``, claimed for a lease and retried with growing
delays exactly as the release outbox is (``desk.outbox``); every attempt is recorded on
its row, so a receiver that is down gets the notice once it is up again. Delivery is at
least once (a sender killed mid-attempt leaves its notice to be sent again after its
lease): each notice carries its id (``Notice.id``: a webhook's header and body, an
email's ``X-Crisiswatch-Notice``, a robot's last line), by which a receiver drops a copy.
A notice of an alert closed before it went is not sent but cancelled, its row saying why.

**Quiet hours**: a person's notice of level IV or III waits while their quiet hours
(``QuietHours``, China time) last, as they are at each run; levels II and I go at once.

**Escalation**: an alert nobody has acknowledged within its level's time
(``escalation.toml``) is escalated to the parent organisation of its scheme's (then to
that one's parent, after as long again), each step an audit entry and a notice to every
channel of the organisation it reached; the first step also copies it to the
departments the scheme names (``on_escalation`` recipients).
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from time import monotonic
from typing import Callable, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import naive_utc, utcnow
from desk import audit, rules
from desk.alert_rules import key_words
from desk.drills import mark
from desk.errors import Invalid
from desk.notices import LEVELS, Notice
from desk.outbox import LEASE, MAX_ATTEMPTS, attempted, backoff, lease_renewed, moved
from desk.states import AlertState, DeliveryStatus
from desk.tables import (Alert, AlertDelivery, AlertRecipient, AlertRule, AlertScheme, Organisation,
                         QuietHours, User)
from desk.transmitters import TRANSMITTERS, Channel, notify

log = logging.getLogger(__name__)
R = TypeVar("R")  # what an attempt at a notice row gives its caller

SHIPPED_ESCALATION = Path(__file__).with_name("escalation.toml")
LOUD = ("II", "I")  # the levels that quiet hours do not hold
MAX_ESCALATION_HOURS = 24 * 365
CLOSED_FIRST = "not sent: the alert was closed first"
HEADLINES = {"opened": "新预警", "raised": "预警升级", "escalated": "预警未研判，已上报"}


def load_escalation(path: Path | None = None) -> dict[str, timedelta]:
    """Each level's time to acknowledgement: the shipped ones, with those of the home's
    file (``path``) when it exists; ``Invalid`` naming the file and key for a mistake."""
    hours = {}
    for chosen in (SHIPPED_ESCALATION, path):
        if chosen is not None and chosen.exists():
            try:
                data = tomllib.loads(chosen.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
                raise Invalid("escalation_toml", path=chosen, error=str(err)) from None
            if set(data) - {"hours"} or not isinstance(data.get("hours", {}), dict):
                raise Invalid("escalation_table", path=chosen)
            for level, value in data.get("hours", {}).items():
                if (level not in LEVELS or type(value) not in (int, float)
                        or not 0 < value <= MAX_ESCALATION_HOURS):  # NaN is not either
                    raise Invalid("escalation_value", path=chosen, key=level, value=value,
                                  limit=MAX_ESCALATION_HOURS)
                hours[level] = value
    return {level: timedelta(hours=value) for level, value in hours.items()}


def held(hours: QuietHours | None, level: str, now: datetime) -> bool:
    """Whether a notice of ``level`` to someone with these quiet hours waits at ``now`` (naive UTC)."""
    if hours is None or level in LOUD:
        return False
    at = now.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).time()
    starts, ends = time.fromisoformat(hours.starts), time.fromisoformat(hours.ends)
    return starts <= at < ends if starts < ends else at >= starts or at < ends


# -- queueing ---------------------------------------------------------------------------


def add_recipient(session: Session, scheme: AlertScheme, org: Organisation, channel: str | None = None,
                  user_id: int | None = None, on_escalation: bool = False, *, actor: str = "system",
                  channels: dict[str, list[Channel]] | None = None) -> AlertRecipient:
    """A channel of ``org`` (for the person ``user_id`` of ``org`` when given) that the
    scheme's alerts go to; with ``on_escalation``, a department copied when one is escalated
    (every channel of ``org`` when ``channel`` is None). ``channels``: the channels file's
    (``desk.outbox.load_channels``), where the channel must be one that takes notices; None
    where the caller writes that file afterwards (a scratch home)."""
    _check_named(channel, on_escalation)
    if channels is not None and channel is not None and not any(
            c.name == channel and TRANSMITTERS[c.kind].takes_notices for c in channels.get(org.name, [])):
        raise Invalid("recipient_channel", org=org.name, channel=channel)
    user = session.get(User, user_id) if user_id is not None else None
    if user is not None and user.org_id != org.id:
        raise Invalid("recipient_user", user=user.username, org=org.name)
    audit.lock(session)
    recipient = AlertRecipient(scheme_id=scheme.id, org_id=org.id, channel=channel, user_id=user_id,
                               on_escalation=on_escalation)
    session.add(recipient)
    session.flush()
    audit.record(session, actor, "alert.recipient_add", f"alert_scheme:{scheme.id}",
                 {"org": org.name, "channel": channel, "user": user_id, "on_escalation": on_escalation},
                 org_id=scheme.org_id)
    return recipient


def remove_recipient(session: Session, scheme: AlertScheme, recipient: AlertRecipient, *, actor: str) -> None:
    """Stop sending the scheme's alerts to ``recipient`` (notices already queued still go)."""
    audit.lock(session)
    session.delete(recipient)
    audit.record(session, actor, "alert.recipient_remove", f"alert_scheme:{scheme.id}",
                 {"org": session.get(Organisation, recipient.org_id).name, "channel": recipient.channel,
                  "user": recipient.user_id, "on_escalation": recipient.on_escalation}, org_id=scheme.org_id)


def find_recipient(session: Session, scheme: AlertScheme, org: Organisation, channel: str | None,
                   user_id: int | None, on_escalation: bool) -> AlertRecipient:
    """The scheme's recipient added with these options (as ``add_recipient`` takes them)."""
    _check_named(channel, on_escalation)
    found = session.scalars(select(AlertRecipient).where(
        AlertRecipient.scheme_id == scheme.id, AlertRecipient.org_id == org.id,
        AlertRecipient.channel.is_(None) if channel is None else AlertRecipient.channel == channel,
        AlertRecipient.user_id.is_(None) if user_id is None else AlertRecipient.user_id == user_id,
        AlertRecipient.on_escalation.is_(on_escalation)).order_by(AlertRecipient.id)).first()
    if found is None:
        raise Invalid("no_recipient", scheme=scheme.name, org=org.name, channel=channel or "*")
    return found


def _check_named(channel: str | None, on_escalation: bool) -> None:
    """A recipient names a channel, or is a department copied on escalation (all its channels)."""
    if channel is None and not on_escalation:
        raise Invalid("recipient_needs_channel")


def recipients(session: Session, scheme: AlertScheme) -> list[AlertRecipient]:
    return list(session.scalars(select(AlertRecipient).where(AlertRecipient.scheme_id == scheme.id)
                                .order_by(AlertRecipient.id)))


def set_quiet_hours(session: Session, user_id: int, hours: tuple[str, str] | None, *, actor: str) -> None:
    """Set a person's quiet hours (``("22:00", "07:00")``, China time), or with None end them."""
    if hours is not None and hours[0] == hours[1]:  # not a whole day's silence
        raise Invalid("quiet_hours_equal", hours="-".join(hours))
    audit.lock(session)
    known = session.get(QuietHours, user_id)
    if hours is None:
        if known is not None:
            session.delete(known)
    elif known is None:
        session.add(QuietHours(user_id=user_id, starts=hours[0], ends=hours[1]))
    else:
        known.starts, known.ends = hours
    audit.record(session, actor, "quiet_hours", f"user:{user_id}", {"hours": hours and "-".join(hours)},
                 org_id=session.get(User, user_id).org_id)


def queue(session: Session, alert: Alert, reason: str, now: datetime) -> list[AlertDelivery]:
    """The alert's notice (``reason``: opened or raised) for each recipient of its scheme."""
    scheme_id = session.get(AlertRule, alert.rule_id).scheme_id
    recipients = session.scalars(select(AlertRecipient).where(
        AlertRecipient.scheme_id == scheme_id, AlertRecipient.on_escalation.is_(False)).order_by(AlertRecipient.id))
    return [_add(session, alert, reason, r.org_id, r.channel, r.user_id, now) for r in recipients]


def _add(session: Session, alert: Alert, reason: str, org_id: int, channel: str, user_id: int | None,
         now: datetime) -> AlertDelivery:
    delivery = AlertDelivery(alert_id=alert.id, reason=reason, level=alert.level, org_id=org_id, channel=channel,
                             user_id=user_id, created_at=now, status=DeliveryStatus.PENDING, attempts=0,
                             last_error="")
    session.add(delivery)
    return delivery


# -- escalation -------------------------------------------------------------------------


def escalate_due(session: Session, channels: dict[str, list[Channel]], now: datetime | None = None,
                 limits: dict[str, timedelta] | None = None) -> list[Alert]:
    """Escalate each alert still new (not acknowledged) past its level's time since it was
    opened or last escalated, one step up; returns them."""
    now = naive_utc(now) or utcnow()
    limits = limits or load_escalation()
    audit.lock(session)
    escalated = []
    waiting = session.execute(select(Alert, AlertScheme).join(AlertRule, Alert.rule_id == AlertRule.id)
                              .join(AlertScheme, AlertRule.scheme_id == AlertScheme.id)
                              .where(Alert.state == AlertState.NEW).order_by(Alert.id)).all()
    for alert, scheme in waiting:
        if now - (alert.escalated_at or alert.opened_at) < limits[alert.level]:
            continue
        below = session.get(Organisation, alert.escalated_to_org_id or scheme.org_id)
        above = session.get(Organisation, below.parent_id) if below.parent_id else None
        if above is None:
            continue
        first = alert.escalated_to_org_id is None
        alert.escalated_to_org_id, alert.escalated_at = above.id, now
        audit.record(session, "system", "alert.escalate", f"alert:{alert.id}",
                     {"from": below.name, "to": above.name, "level": alert.level}, org_id=scheme.org_id)
        if not _to_organisation(session, alert, above, None, channels, now):
            _unheard(alert, above)
        if first:
            for copied in session.scalars(select(AlertRecipient).where(
                    AlertRecipient.scheme_id == scheme.id, AlertRecipient.on_escalation.is_(True))):
                org = session.get(Organisation, copied.org_id)
                audit.record(session, "system", "alert.copy", f"alert:{alert.id}", {"to": org.name},
                             org_id=scheme.org_id)
                if not _to_organisation(session, alert, org, copied.channel, channels, now):
                    _unheard(alert, org)
        escalated.append(alert)
    session.flush()
    return escalated


def _to_organisation(session, alert: Alert, org: Organisation, channel: str | None,
                     channels: dict[str, list[Channel]], now: datetime) -> list[AlertDelivery]:
    """The escalation's notice to ``channel`` of ``org``, or to each of its channels that takes notices."""
    names = [channel] if channel else [c.name for c in channels.get(org.name, [])
                                       if TRANSMITTERS[c.kind].takes_notices]
    return [_add(session, alert, "escalated", org.id, name, None, now) for name in names]


def _unheard(alert: Alert, org: Organisation) -> None:
    log.warning("alert %d was escalated to %s, which has no channel for notices in the channels file: "
                "no notice was queued", alert.id, org.name)


# -- delivering -------------------------------------------------------------------------


@dataclass
class AlertDeliveryResult:
    delivery_id: int
    alert_id: int
    org: str
    channel: str
    status: DeliveryStatus  # delivered; pending (retried at next_attempt_at); failed; cancelled (alert closed)
    attempts: int
    error: str = ""


def due(session: Session, now: datetime) -> list[AlertDelivery]:
    """The notices to attempt at ``now``: pending ones due, and those whose sender's lease
    ran out; not those that their person's quiet hours hold."""
    rows = session.scalars(
        select(AlertDelivery).where(AlertDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
                                    AlertDelivery.next_attempt_at.is_(None) | (AlertDelivery.next_attempt_at <= now))
        .order_by(AlertDelivery.id))
    return [row for row in rows
            if row.user_id is None or not held(session.get(QuietHours, row.user_id), row.level, now)]


def deliver_due(session_factory: Callable[[], Session], channels: dict[str, list[Channel]],
                now: datetime | None = None, link_base: str = "") -> list[AlertDeliveryResult]:
    """Send every notice due at ``now``, each claimed, sent and recorded in its own
    transactions; ``link_base`` is the review site's address, which the links start with.
    The results start with the notices cancelled, their alert closed (``_cancel_closed``)."""
    now = naive_utc(now) or utcnow()
    started = monotonic()

    def lease_clock() -> datetime:
        return now + timedelta(seconds=monotonic() - started)

    with session_factory() as session:
        ids = [d.id for d in due(session, now)]
    ids, results = _cancel_closed(session_factory, ids, now)
    for delivery_id in ids:
        if _claim(session_factory, delivery_id, lease_clock()):
            with lease_renewed(session_factory, delivery_id, lease_clock, table=AlertDelivery):
                results.append(_attempt(session_factory, delivery_id, channels, now, link_base))
    return results


def _cancel_closed(session_factory, ids: list[int],
                   now: datetime) -> tuple[list[int], list[AlertDeliveryResult]]:
    """Cancel the notices (of ``ids``) of alerts closed since they were queued, each row
    saying why, as no one needs them now: the others' ids, and the notices this run
    cancelled (not one another sender holds meanwhile)."""
    with session_factory() as session, session.begin():
        stale = session.scalars(select(AlertDelivery.id).join(Alert, Alert.id == AlertDelivery.alert_id).where(
            AlertDelivery.id.in_(ids), Alert.state == AlertState.CLOSED)).all()
        changed = session.execute(moved(
            "cancel", AlertDelivery.id.in_(stale),
            AlertDelivery.next_attempt_at.is_(None) | (AlertDelivery.next_attempt_at <= now),
            table=AlertDelivery, next_attempt_at=None, last_error=CLOSED_FIRST).returning(
            AlertDelivery.id, AlertDelivery.alert_id, AlertDelivery.org_id, AlertDelivery.channel,
            AlertDelivery.attempts)).all()
        cancelled = [AlertDeliveryResult(row.id, row.alert_id, session.get(Organisation, row.org_id).name,
                                         row.channel, DeliveryStatus.CANCELLED, row.attempts, CLOSED_FIRST)
                     for row in sorted(changed)]
    return [delivery_id for delivery_id in ids if delivery_id not in stale], cancelled


def _claim(session_factory, delivery_id: int, now: datetime) -> bool:
    with session_factory() as session, session.begin():
        claimed = session.execute(moved(
            "claim", AlertDelivery.id == delivery_id,
            AlertDelivery.next_attempt_at.is_(None) | (AlertDelivery.next_attempt_at <= now),
            table=AlertDelivery, next_attempt_at=now + LEASE))
        return claimed.rowcount == 1


def _attempt(session_factory, delivery_id: int, channels, now: datetime, link_base: str) -> AlertDeliveryResult:
    return attempt_notice(
        session_factory, AlertDelivery, delivery_id, channels, now,
        lambda session, delivery: notice(session, delivery, link_base),
        lambda delivery, org, error: AlertDeliveryResult(delivery.id, delivery.alert_id, org, delivery.channel,
                                                         delivery.status, delivery.attempts, error))


def send_due(session_factory, table, now: datetime, send: Callable[[int], R]) -> list[R]:
    """Each notice row of ``table`` (report or inject notices) due at ``now``, claimed under
    a lease (so two senders never send one row at once) and sent by ``send(row id)``
    (``attempt_notice``), in transactions of its own; the results of those sent."""
    started = monotonic()

    def lease_clock() -> datetime:
        return now + timedelta(seconds=monotonic() - started)

    def due(at: datetime):
        return table.next_attempt_at.is_(None) | (table.next_attempt_at <= at)

    with session_factory() as session:
        ids = session.scalars(select(table.id).where(
            table.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)), due(now)).order_by(table.id)).all()
    results = []
    for row_id in ids:
        with session_factory() as session, session.begin():
            claimed = session.execute(moved("claim", table.id == row_id, due(lease_clock()), table=table,
                                            next_attempt_at=lease_clock() + LEASE)).rowcount
        if claimed == 1:
            with lease_renewed(session_factory, row_id, lease_clock, table=table):
                results.append(send(row_id))
    return results


def attempt_notice(session_factory, table, delivery_id: int, channels, now: datetime,
                   message: Callable[[Session, object], Notice], result: Callable[[object, str, str], R]) -> R:
    """One attempt at a claimed notice row of ``table`` (alert or report notices): its
    ``message`` sent to its organisation's channel, and the attempt recorded (delivered,
    postponed with back-off, or given up after ``MAX_ATTEMPTS``) in a transaction of its
    own; ``result(row, organisation, error)`` is read from the recorded row."""
    with session_factory() as session:
        delivery = session.get(table, delivery_id)
        org = session.get(Organisation, delivery.org_id).name
        found = next((c for c in channels.get(org, []) if c.name == delivery.channel), None)
        sent = message(session, delivery)
    if found is None:
        error = f"no channel {delivery.channel!r} for {org} in the channels file"
    elif not TRANSMITTERS[found.kind].takes_notices:
        error = f"channel {found.name!r} is of kind {found.kind}, which takes no notices"
    else:
        error = attempted(found, lambda: notify(found, sent, now))
    with session_factory() as session, session.begin():
        delivery = session.get(table, delivery_id)
        delivery.attempts += 1
        if error is None:
            rules.move_delivery(delivery, "deliver")
            delivery.delivered_at, delivery.next_attempt_at = now, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            rules.move_delivery(delivery, "give_up")
            delivery.last_error, delivery.next_attempt_at = error, None
        else:
            rules.move_delivery(delivery, "postpone")
            delivery.last_error, delivery.next_attempt_at = error, now + backoff(delivery.attempts)
        return result(delivery, org, error or "")


def notice(session: Session, delivery: AlertDelivery, link_base: str = "") -> Notice:
    """What the row sends: the alert's scheme and key, its figures, at the row's level,
    with a link to the alert; the same id at each attempt (a receiver drops copies)."""
    alert = session.get(Alert, delivery.alert_id)
    rule = session.get(AlertRule, alert.rule_id)
    scheme = session.get(AlertScheme, rule.scheme_id)
    key = key_words(rule.kind, rule.params, alert.key)
    lines = [f"{HEADLINES[delivery.reason]}：{scheme.name}（{rule.kind} {key}）",
             f"- 数量：{alert.count}（基线 {alert.baseline:g}）"]
    if alert.first_post_at is not None:
        first = alert.first_post_at.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ)
        lines.append(f"- 首条：{first:%Y-%m-%d %H:%M}")
    if delivery.reason == "escalated":
        lines.append(f"- 发出单位：{session.get(Organisation, scheme.org_id).name}")
    return Notice(f"alert-{alert.id}-{delivery.id}", f"{mark(session)}{scheme.name}：{key}", "\n".join(lines),
                  level=delivery.level, link=f"{link_base.rstrip('/')}/alerts/{alert.id}")
