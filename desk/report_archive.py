"""Kept reports (留存报告): a briefing made on the reports page or by the scheduler is kept
with its figures (``Report.as_dict``), and each format is rendered from them again when it
is downloaded (``desk.reports.render``), so a kept report reads the same later on.

Who sees one: the people of the organisation it was made for (everyone for one made
for none), an admin all of them. A report is **sent** as a notice (its
title, its summary sentences and a link to its page) to channels of an organisation in
the channels file that take notices: one ``ReportDelivery`` row each, claimed, sent and
retried with the release outbox's steps, lease and delays (``desk.outbox``) as the alert
outbox's rows are, so a receiver that is down gets it once it is up again; delivery is at
least once, each notice carrying its id.

The **daily report** (``make_daily``) is yesterday's (China time), made for each
organisation that names channels for it (``daily_report`` in the channels file), with
only the alerts its people see, and queued to those channels in the same transaction;
days missed since its last one are made too (at most a week's). Its day and organisation
are a unique key of the table, checked under the workflow lock, so two schedulers or a
restart make each once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import Store, naive_utc, utcnow
from desk import audit
from desk.clocks import Clock
from desk.errors import Invalid, NotFound
from desk.notices import Notice
from desk.alert_outbox import attempt_notice, send_due
from desk.alerts import HANDLERS
from desk.reports import Report, make_report, render
from desk.states import DeliveryStatus
from desk.tables import KeptReport, Organisation, ReportDelivery
from desk.transmitters import TRANSMITTERS, Channel

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"  # made_by of the scheduler's daily reports
LISTED = 200  # the newest reports a list shows
# what a file name shows as a dash: path separators, control characters (a line break in a
# title would fail the download's header) and invisible marks (a right-to-left override)
_NOT_IN_NAMES = re.compile(r"[/\\\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+")


def check_options(kind: str, *, incident: int | None, query: str, day: date | None, since: datetime | None,
                  until: datetime | None) -> None:
    """Each option goes with the kinds it applies to, as ``crisiswatch report`` takes them."""
    if kind == "special" and incident is None:
        raise Invalid("report_incident")
    wrong = [(incident is not None and kind != "special", "incident", "special"),
             (bool(query) and kind == "special", "query", "daily, flash"),
             (day is not None and kind != "daily", "date", "daily"),
             ((since or until) is not None and kind != "flash", "since/until", "flash")]
    for given, option, kinds in wrong:
        if given:
            raise Invalid("report_option", option=option, kinds=kinds)


def keep(session: Session, made: Report, *, made_by: str, org_id: int | None, incident_id: int | None = None,
         scheduled_day: date | None = None) -> KeptReport:
    """Keep ``made`` (audited, in the caller's transaction)."""
    kept = KeptReport(kind=made.kind, title=made.title, query=made.query, since=naive_utc(made.since),
                      until=naive_utc(made.until), made_at=naive_utc(made.made_at), made_by=made_by, org_id=org_id,
                      incident_id=incident_id, total_posts=made.total_posts, figures=made.as_dict(),
                      scheduled_day=scheduled_day)
    session.add(kept)
    session.flush()
    audit.record(session, "system" if made_by == SCHEDULER else made_by, "report.make", f"report:{kept.id}",
                 {"kind": made.kind, "title": made.title, "query": made.query,
                  "since": made.since.isoformat(), "until": made.until.isoformat()}, org_id=org_id)
    return kept


def may_see(user, kept: KeptReport) -> bool:
    return "admin" in user.roles or kept.org_id is None or kept.org_id == user.org_id


def visible(session: Session, user) -> list[KeptReport]:
    """The reports ``user`` may see, newest first."""
    chosen = select(KeptReport).order_by(KeptReport.made_at.desc(), KeptReport.id.desc()).limit(LISTED)
    if "admin" not in user.roles:
        chosen = chosen.where(or_(KeptReport.org_id.is_(None), KeptReport.org_id == user.org_id))
    return list(session.scalars(chosen))


def get(session: Session, user, report_id: int) -> KeptReport:
    kept = session.get(KeptReport, report_id)
    if kept is None or not may_see(user, kept):
        raise NotFound("no_report", report=report_id)
    return kept


def rendered(kept: KeptReport, form: str, china_map: Path | None = None) -> bytes:
    """The kept report as a file of ``form`` (``desk.reports.FORMATS``), from its figures
    (``china_map``: as ``render`` takes it)."""
    return render(Report.from_dict(kept.figures), form, china_map=china_map)


def file_name(kept: KeptReport, form: str) -> str:
    """e.g. 舆情日报-2024-07-24.html: the title (``_NOT_IN_NAMES`` a dash) and the day it
    covers, or for an incident's report, whose window starts before the incident, the day
    it was made (China time)."""
    if kept.incident_id is None:
        day = datetime.fromisoformat(kept.figures["since"]).date()
    else:
        day = kept.made_at.replace(tzinfo=timezone.utc).astimezone(CHINA_TZ).date()
    return f"{_NOT_IN_NAMES.sub('-', kept.title)}-{day.isoformat()}.{form}"


# -- sending ----------------------------------------------------------------------------


def send(session: Session, kept: KeptReport, org: Organisation, channels: dict[str, list[Channel]], *,
         actor: str, now: datetime | None = None) -> list[ReportDelivery]:
    """Queue the report to each channel of ``org`` that takes notices (audited); a channel
    whose notice of it still waits keeps that one (the send pressed twice sends once)."""
    names = [c.name for c in channels.get(org.name, []) if TRANSMITTERS[c.kind].takes_notices]
    if not names:
        raise Invalid("report_no_channel", org=org.name)
    audit.lock(session)  # before reading what waits, so that two at once queue one
    waiting = {row.channel: row for row in session.scalars(select(ReportDelivery).where(
        ReportDelivery.report_id == kept.id, ReportDelivery.org_id == org.id,
        ReportDelivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING))))}
    queued = {row.channel: row for row in _queue(session, kept, org, [n for n in names if n not in waiting],
                                                 naive_utc(now) or utcnow())}
    rows = [waiting.get(name) or queued[name] for name in names]
    audit.record(session, actor, "report.send", f"report:{kept.id}", {"org": org.name, "channels": names},
                 org_id=org.id)
    return rows


def _queue(session: Session, kept: KeptReport, org: Organisation, names: list[str],
           now: datetime) -> list[ReportDelivery]:
    rows = [ReportDelivery(report_id=kept.id, org_id=org.id, channel=name, created_at=now,
                           status=DeliveryStatus.PENDING, attempts=0, last_error="") for name in names]
    session.add_all(rows)
    session.flush()
    return rows


def deliveries(session: Session, kept: KeptReport) -> list[tuple[ReportDelivery, str]]:
    """The report's notices with their organisation's name, in the order they were queued."""
    return [(delivery, name) for delivery, name in session.execute(
        select(ReportDelivery, Organisation.name).join(Organisation, Organisation.id == ReportDelivery.org_id)
        .where(ReportDelivery.report_id == kept.id).order_by(ReportDelivery.id))]


@dataclass
class ReportSent:
    delivery_id: int
    report_id: int
    org: str
    channel: str
    status: DeliveryStatus  # delivered; pending (retried later); failed
    attempts: int
    error: str = ""


def deliver_due(session_factory: Callable[[], Session], channels: dict[str, list[Channel]],
                now: datetime | None = None, link_base: str = "") -> list[ReportSent]:
    """Send every report notice due at ``now``, each claimed, sent and recorded in its own
    transactions (``link_base``: the review site's address, which the links start with)."""
    now = naive_utc(now) or utcnow()
    return send_due(session_factory, ReportDelivery, now,
                    lambda delivery_id: _attempt(session_factory, delivery_id, channels, now, link_base))


def _attempt(session_factory, delivery_id: int, channels, now: datetime, link_base: str) -> ReportSent:
    return attempt_notice(
        session_factory, ReportDelivery, delivery_id, channels, now,
        lambda session, delivery: notice(session.get(KeptReport, delivery.report_id), delivery, link_base),
        lambda delivery, org, error: ReportSent(delivery.id, delivery.report_id, org, delivery.channel,
                                                delivery.status, delivery.attempts, error))


def notice(kept: KeptReport, delivery: ReportDelivery, link_base: str = "") -> Notice:
    """The report's title and window, its summary sentences, a link to its page; the same
    id at each attempt (a receiver drops copies)."""
    since, until = (datetime.fromisoformat(kept.figures[key]) for key in ("since", "until"))
    lines = [f"时段：{since:%Y-%m-%d %H:%M} 至 {until:%Y-%m-%d %H:%M}（北京时间）",
             *(f"- {sentence}" for sentence in kept.figures["summary"]["sentences"])]
    return Notice(f"report-{kept.id}-{delivery.id}", kept.title, "\n".join(lines),
                  link=f"{link_base.rstrip('/')}/reports/{kept.id}")


# -- the scheduler's daily report --------------------------------------------------------


CATCH_UP = 7  # the most days a daily report is made for at once, the oldest first


@dataclass(frozen=True)
class OrgReader:
    """Whoever of an organisation reads its daily report: its alerts are those the
    organisation's analysts see (``desk.alerts.may_handle``), as the reports page shows them."""

    org_id: int
    roles: tuple[str, ...] = (HANDLERS[0],)


def make_daily(session_factory: Callable[[], Session], store: Store, index, clocks: list[Clock],
               daily_channels: dict[str, list[str]], now: datetime | None = None,
               places: Path | None = None) -> list[int]:
    """The daily reports (China time) of each organisation named in ``daily_channels``
    (channel names by organisation name), each kept for that organisation and queued to its
    channels: yesterday's, and the days since its last one that none was made for (the
    scheduler or the index was down on their morning), at most ``CATCH_UP``, the oldest
    first. The ids of those made, each (day, organisation) once."""
    now = now or datetime.now(CHINA_TZ)
    yesterday = (now.astimezone(CHINA_TZ) - timedelta(days=1)).date()
    made = []
    for name, channel_names in daily_channels.items():
        with session_factory() as session:
            org_id = session.scalar(select(Organisation.id).where(Organisation.name == name))
            if org_id is None:
                log.warning("the channels file names the daily report's channels of %s, "
                            "which is no organisation of the desk", name)
                continue
            last = session.scalar(select(func.max(KeptReport.scheduled_day)).where(KeptReport.org_id == org_id))
        first = max(last + timedelta(days=1), yesterday - timedelta(days=CATCH_UP - 1)) if last else yesterday
        for day in (first + timedelta(days=n) for n in range((yesterday - first).days + 1)):
            kept = _make_day(session_factory, store, index, clocks, org_id, channel_names, day, now, places)
            if kept is not None:
                made.append(kept)
    return made


def _make_day(session_factory, store: Store, index, clocks: list[Clock], org_id: int, channel_names: list[str],
              day: date, now: datetime, places: Path | None) -> int | None:
    with session_factory() as session:
        if _made(session, day, org_id):
            return None
        made = make_report("daily", store, index, session, clocks, day=day, now=now, places=places,
                           viewer=OrgReader(org_id))
    try:
        with session_factory() as session, session.begin():
            audit.lock(session)
            if _made(session, day, org_id):  # by another scheduler meanwhile
                return None
            kept = keep(session, made, made_by=SCHEDULER, org_id=org_id, scheduled_day=day)
            _queue(session, kept, session.get(Organisation, org_id), channel_names, naive_utc(now))
            return kept.id
    except IntegrityError:  # the unique (day, organisation): another scheduler's went first
        return None


def _made(session: Session, day: date, org_id: int) -> bool:
    return session.scalar(select(KeptReport.id).where(KeptReport.scheduled_day == day,
                                                      KeptReport.org_id == org_id)) is not None
