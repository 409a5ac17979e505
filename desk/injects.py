"""A drill's injects reach their team: the organisation of the scenario's side that an
inject is ``to`` sees it in the review UI (``received``) and gets it as a notice on each
of its channels that take notices.

The notices are queued (``queue``) in the transaction that records the inject as sent, so
a sender killed after it is recorded still sends them; each is then claimed, sent and
retried as a kept report's notice is (``deliver_due``), at least once, each carrying its
id (a receiver drops copies). Their titles say 【演练】 (``desk.drills.MARK``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store import naive_utc, utcnow
from desk.alert_outbox import attempt_notice, send_due
from desk.drills import MARK
from desk.notices import Notice
from desk.scenario import Inject, Scenario
from desk.states import DeliveryStatus
from desk.tables import InjectNotice, Organisation, Replay, ReplayEvent
from desk.transmitters import TRANSMITTERS, Channel

# What each kind of inject is called in its notice (the review UI's drill_inject_kind_*).
KIND_NAMES = {"journalist_call": "记者来电", "rumor_video": "谣言视频", "new_fault": "新故障"}


def queue(session: Session, event: ReplayEvent, inject: Inject, org: Organisation,
          channels: dict[str, list[Channel]], now: datetime) -> list[InjectNotice]:
    """The inject's notice to each channel of ``org`` that takes notices (none: no row)."""
    names = [c.name for c in channels.get(org.name, []) if TRANSMITTERS[c.kind].takes_notices]
    rows = [InjectNotice(event_id=event.id, org_id=org.id, channel=name, title=f"{MARK}情景注入：{KIND_NAMES[inject.kind]}",
                         text=inject.text, created_at=naive_utc(now), status=DeliveryStatus.PENDING, attempts=0,
                         last_error="") for name in names]
    session.add_all(rows)
    session.flush()
    return rows


def received(session: Session, replay: Replay, scenario: Scenario, org_id: int) -> list[tuple[Inject, datetime]]:
    """The injects sent so far to the side whose organisation is ``org_id``, with when
    each was sent (naive UTC), the newest first."""
    names = {org.id: org.name for org in session.scalars(select(Organisation))}
    sent = dict(session.execute(select(ReplayEvent.entry_id, ReplayEvent.done_at).where(
        ReplayEvent.replay_id == replay.id, ReplayEvent.kind == "inject")).all())
    ours = {side.key for side in scenario.organisations if side.name == names.get(org_id)}
    found = [(inject, sent[inject.id]) for inject in scenario.injects if inject.id in sent and inject.to in ours]
    return sorted(found, key=lambda pair: pair[1], reverse=True)


@dataclass
class InjectSent:
    notice_id: int
    org: str
    channel: str
    status: DeliveryStatus  # delivered; pending (retried later); failed
    attempts: int
    error: str = ""


def deliver_due(session_factory: Callable[[], Session], channels: dict[str, list[Channel]],
                now: datetime | None = None, link_base: str = "") -> list[InjectSent]:
    """Send every inject notice due at ``now``, each claimed, sent and recorded in its own
    transactions (``link_base``: the review site's address, which the links start with)."""
    now = naive_utc(now) or utcnow()
    return send_due(session_factory, InjectNotice, now, lambda notice_id: attempt_notice(
        session_factory, InjectNotice, notice_id, channels, now, lambda session, row: notice(session, row, link_base),
        lambda row, org, error: InjectSent(row.id, org, row.channel, row.status, row.attempts, error)))


def notice(session: Session, row: InjectNotice, link_base: str = "") -> Notice:
    """The inject as sent, with a link to the drill's incident, where the team sees it;
    the same id at each attempt."""
    replay = session.get(Replay, session.get(ReplayEvent, row.event_id).replay_id)
    return Notice(f"inject-{row.event_id}-{row.id}", row.title, row.text,
                  link=f"{link_base.rstrip('/')}/incidents/{replay.incident_id}")
