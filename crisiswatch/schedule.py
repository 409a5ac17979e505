"""The in-process scheduler: each crawl job on its cron schedule.

The job store is a table in the store of record, so a restart neither loses nor repeats
a run: a job keeps its next run time across restarts, a run missed while the scheduler
was down runs once when it starts again (coalesced), a new job runs at once, and a job
whose last crawl was interrupted (its run still marked running) is run again now.
A job whose crawl was blocked (or whose cookies expired) backs off: its next run waits
30 minutes, doubling with each blocked run in a row, up to a day. After each crawl's tag
batch the precise tier re-tags for up to ``CRISISWATCH_PRECISE_BUDGET`` seconds in a child
process at a lower priority (``stages.tag_precise_in_child``, one at a time), as the last
step of the crawl job's run rather than a job of its own: it follows each batch of new
posts, and the publishing and alert jobs go on in their own threads meanwhile.
Beside the crawls, one job delivers the releases that are due, one evaluates the alert
rules every minute, one escalates alerts and sends their notices and the reports' and one
makes yesterday's daily report at 08:00 China time (``CRISISWATCH_DAILY_REPORT_AT``) or,
when the scheduler was down then, as it starts later that day (``crisiswatch.publishing``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from core.schema import CHINA_TZ
from core.settings import Settings
from core.store import Store
from crawlers.jobs import Job
from crisiswatch import publishing
from crisiswatch.stages import run_job_cycle

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(minutes=30)
BACKOFF_MAX = timedelta(days=1)
REFUSED = ("blocked", "cookie expired")


def start_scheduler(settings: Settings, jobs: dict[str, Job], run_now: bool = True) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=CHINA_TZ,
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url, tablename="scheduled_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    scheduler.start(paused=True)
    store = Store(settings.database_url)
    try:
        interrupted = store.interrupted_jobs()
    finally:
        store.close()
    now = datetime.now(CHINA_TZ)
    stored = {job.id: job for job in scheduler.get_jobs()}
    for job in jobs.values():
        trigger = CronTrigger.from_crontab(job.schedule, timezone=CHINA_TZ)
        known = stored.get(job.name)
        if known is not None and str(known.trigger) == str(trigger):
            changes = {"next_run_time": now} if job.name in interrupted else {}
            scheduler.modify_job(job.name, args=[settings, job], **changes)
        else:
            first = {"next_run_time": now} if run_now else {}
            scheduler.add_job(run_job_cycle, trigger, args=[settings, job], id=job.name, name=f"crawl {job.name}",
                              replace_existing=True, **first)
    for gone in set(stored) - set(jobs) - set(publishing.JOB_IDS):
        scheduler.remove_job(gone)
    scheduler.add_job(publishing.publish_due, "interval", seconds=publishing.INTERVAL.total_seconds(),
                      args=[settings], id=publishing.JOB_ID, name="publish due releases", replace_existing=True,
                      next_run_time=now)  # what fell due while no scheduler ran goes out at once
    scheduler.add_job(publishing.watch_alerts, "interval", seconds=publishing.ALERTS_INTERVAL.total_seconds(),
                      args=[settings], id=publishing.ALERTS_JOB_ID, name="evaluate the alert rules",
                      replace_existing=True, next_run_time=now)
    scheduler.add_job(publishing.deliver_alerts, "interval", seconds=publishing.NOTICES_INTERVAL.total_seconds(),
                      args=[settings], id=publishing.NOTICES_JOB_ID, name="escalate alerts and send their notices",
                      replace_existing=True, next_run_time=now)
    _daily_report(scheduler, settings, now, run_now)
    scheduler.add_listener(lambda event: back_off(scheduler, settings, event.job_id),
                           EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.resume()
    return scheduler


def _daily_report(scheduler: BackgroundScheduler, settings: Settings, now: datetime, run_now: bool) -> None:
    """Yesterday's daily report at ``settings.daily_report_at`` (China time) each day, and
    with ``run_now`` at once when the scheduler starts after that time (a report already
    made is not made again); none when the setting is "off"."""
    if settings.daily_report_at == "off":
        if scheduler.get_job(publishing.DAILY_REPORT_JOB_ID) is not None:
            scheduler.remove_job(publishing.DAILY_REPORT_JOB_ID)
        return
    hour, minute = map(int, settings.daily_report_at.split(":"))
    passed = now >= now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    scheduler.add_job(publishing.daily_report, CronTrigger(hour=hour, minute=minute, timezone=CHINA_TZ),
                      args=[settings], id=publishing.DAILY_REPORT_JOB_ID, name="make the daily report",
                      replace_existing=True, **({"next_run_time": now} if passed and run_now else {}))


def label(job) -> str:
    """How ``crisiswatch schedule`` and the demo name a scheduler job: publishing, an alert
    job by its name, a crawl by its crawl job's."""
    if job.id == publishing.JOB_ID:
        return "publishing"
    return job.name if job.id in publishing.JOB_IDS else f"crawl job {job.id}"


def back_off(scheduler: BackgroundScheduler, settings: Settings, job_name: str) -> None:
    """After a refused crawl, push the job's next run back (see the module docstring)."""
    if job_name in publishing.JOB_IDS:  # not a crawl
        return
    store = Store(settings.database_url)
    try:
        statuses = store.recent_run_statuses(job_name, limit=8)
    finally:
        store.close()
    streak = next((n for n, status in enumerate(statuses) if status not in REFUSED), len(statuses))
    if not streak:
        return
    wait = min(BACKOFF_FIRST * 2 ** (streak - 1), BACKOFF_MAX)
    job = scheduler.get_job(job_name)
    later = datetime.now(CHINA_TZ) + wait
    if job is not None and job.next_run_time and job.next_run_time < later:
        log.warning("crawl %s was refused %d times in a row (%s); next run in %s",
                    job_name, streak, statuses[0], wait)
        scheduler.modify_job(job_name, next_run_time=later)
