"""Publishing from the scheduler: every ``INTERVAL`` it delivers the releases that are
due to the channels of ``<home>/channels.toml`` (see ``desk.outbox``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.store import Store
from desk.database import open_sessions
from desk import outbox
from desk.outbox import ChannelConfigError, DeliveryReport
from desk.states import DeliveryStatus

log = logging.getLogger(__name__)

JOB_ID = "publish"
INTERVAL = timedelta(seconds=15)
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


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning(message)
