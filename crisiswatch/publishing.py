"""Publishing from the scheduler: every ``INTERVAL`` it delivers the releases that are
due to the channels of ``<home>/channels.toml`` (see ``desk.outbox``); every
``ALERTS_INTERVAL`` it evaluates the alert rules; every ``NOTICES_INTERVAL`` it escalates
the alerts nobody has acknowledged in time and sends the alerts' notices (see
``desk.alert_outbox``) and the reports' (``desk.report_archive``). Three jobs, so that a
slow receiver holds only its own; a fourth makes each organisation's daily report of yesterday each morning."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store import Store
from desk.database import open_sessions
from desk import alert_outbox, injects, outbox, report_archive
from desk.errors import Invalid
from desk.outbox import ChannelConfigError, DeliveryReport
from desk.states import DeliveryStatus

log = logging.getLogger(__name__)

JOB_ID = "publish"
INTERVAL = timedelta(seconds=15)
ALERTS_JOB_ID = "alerts"
ALERTS_INTERVAL = timedelta(minutes=1)  # for rules on the clock and stores no crawl brings posts to
NOTICES_JOB_ID = "alert-notices"
NOTICES_INTERVAL = timedelta(seconds=15)
DAILY_REPORT_JOB_ID = "daily-report"
JOB_IDS = (JOB_ID, ALERTS_JOB_ID, NOTICES_JOB_ID, DAILY_REPORT_JOB_ID)  # the scheduler's jobs that are not crawls
_said: set[str] = set()  # what the job has logged already: said once, not every 15 s


@lru_cache(maxsize=None)
def sessions(database_url: str, home: Path) -> sessionmaker[Session]:
    """Sessions on the store's engine (its SQLite settings included), with the workflow's
    tables and the home's audit key; one engine per database for the life of the process."""
    return open_sessions(Store(database_url).engine, home)


def publish_due(settings: Settings, now: datetime | None = None) -> DeliveryReport | None:
    """The scheduler's job (module level and pickled with its settings, as the job store needs)."""
    path = settings.channels_file
    if not path.exists():
        _say_once(f"no {path}: releases are not published until it is written")
        return None
    try:
        report = outbox.run(sessions(settings.database_url, settings.home), path, now)
    except ChannelConfigError as err:
        _say_once(f"releases are not published: {err}")
        return None
    for result in report.results:
        if result.status == DeliveryStatus.DELIVERED:
            log.info("release %d delivered to %s / %s", result.release_id, result.org, result.channel)
        else:
            log.warning("release %d to %s / %s: attempt %d failed (%s), %s", result.release_id, result.org,
                        result.channel, result.attempts, result.error,
                        "gave up" if result.status == DeliveryStatus.FAILED
                        else f"next at {result.next_attempt_at} UTC")
    for release_id, why in report.why_held().items():
        _say_once(f"release {release_id} is held, {why}")
    return report


def deliver_alerts(settings: Settings, now: datetime | None = None) -> list[alert_outbox.AlertDeliveryResult]:
    """Escalate the alerts due for it, then send the alert notices that are due, and the
    kept reports' and drill injects' notices. Links start with the review site's address,
    ``settings.site_url`` (e.g. https://yq.example.cn)."""
    path = settings.channels_file
    if not path.exists():
        _say_once(f"no {path}: alerts are not sent until it is written")
        return []
    try:
        channels = outbox.load_channels(path)
    except ChannelConfigError as err:
        _say_once(f"alerts are not sent: {err}")
        return []
    if not settings.site_url:
        _say_once("no CRISISWATCH_SITE_URL: the links in alert notices are relative (/alerts/<id>) until it is set")
    factory = sessions(settings.database_url, settings.home)
    try:
        with factory() as session, session.begin():
            limits = alert_outbox.load_escalation(settings.home / "escalation.toml")
            alert_outbox.escalate_due(session, channels, now, limits)
    except Invalid as err:
        _say_once(f"alerts are not escalated: {err}")
    except Exception:  # the notices due still go
        log.exception("alerts were not escalated")
    results = alert_outbox.deliver_due(factory, channels, now, settings.site_url)
    for sent in report_archive.deliver_due(factory, channels, now, settings.site_url):
        if sent.status == DeliveryStatus.DELIVERED:
            log.info("report %d sent to %s / %s", sent.report_id, sent.org, sent.channel)
        else:
            log.warning("report %d to %s / %s: attempt %d failed (%s)", sent.report_id, sent.org, sent.channel,
                        sent.attempts, sent.error)
    for sent in injects.deliver_due(factory, channels, now, settings.site_url):
        if sent.status == DeliveryStatus.DELIVERED:
            log.info("inject notice %d sent to %s / %s", sent.notice_id, sent.org, sent.channel)
        else:
            log.warning("inject notice %d to %s / %s: attempt %d failed (%s)", sent.notice_id, sent.org,
                        sent.channel, sent.attempts, sent.error)
    for result in results:
        if result.status == DeliveryStatus.DELIVERED:
            log.info("alert %d sent to %s / %s", result.alert_id, result.org, result.channel)
        elif result.status == DeliveryStatus.CANCELLED:
            log.info("alert %d to %s / %s is not sent: %s", result.alert_id, result.org, result.channel, result.error)
        else:
            log.warning("alert %d to %s / %s: attempt %d failed (%s)", result.alert_id, result.org, result.channel,
                        result.attempts, result.error)
    return results


def daily_report(settings: Settings, now: datetime | None = None) -> list[int]:
    """The scheduler's daily report job: yesterday's report (and the days missed before it)
    made once for each organisation that names channels for it (``daily_report`` in the
    channels file) and queued to them; the notices job sends it. A wrong ``daily_report``
    list is logged, and its organisation's report is made but sent nowhere (it is not sent
    later once the file is fixed: it can be sent from the reports page). The ids made."""
    from desk.clocks import load_clocks
    from indexes.backends import open_index

    if not settings.channels_file.exists():
        _say_once(f"no {settings.channels_file}: no daily report is made until it names channels for it")
        return []
    try:
        channels = outbox.daily_report_channels(settings.channels_file)
    except ChannelConfigError as err:
        _say_once(f"no daily report is made: {err}")
        return []
    store = Store(settings.database_url)
    try:
        made = report_archive.make_daily(sessions(settings.database_url, settings.home), store,
                                         open_index(settings), load_clocks(settings.home / "clocks.toml"),
                                         channels, now, settings.own_places)
    finally:
        store.close()
    for report_id in made:
        log.info("made the daily report %d", report_id)
    return made


def watch_alerts(settings: Settings, now: datetime | None = None) -> None:
    """The scheduler's alert job: the rules evaluated (``stages.check_alerts``, which logs
    a failure); what they open is sent by the notices job (``deliver_alerts``)."""
    from crisiswatch.stages import check_alerts

    store = Store(settings.database_url)
    try:
        check_alerts(settings, store, now)
    finally:
        store.close()


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning(message)
