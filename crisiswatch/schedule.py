"""The in-process scheduler: each crawl job on its cron schedule, first run at start."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from core.schema import CHINA_TZ
from core.settings import Settings
from crawlers.jobs import Job
from crisiswatch.stages import run_job_cycle

log = logging.getLogger(__name__)


def start_scheduler(settings: Settings, jobs: dict[str, Job], run_now: bool = True) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=CHINA_TZ, job_defaults={"coalesce": True, "max_instances": 1})
    first_run = {"next_run_time": datetime.now(CHINA_TZ)} if run_now else {}
    for job in jobs.values():
        scheduler.add_job(
            run_job_cycle,
            CronTrigger.from_crontab(job.schedule, timezone=CHINA_TZ),
            args=[settings, job],
            id=job.name,
            name=f"crawl {job.name}",
            **first_run,
            misfire_grace_time=300,
        )
    scheduler.start()
    return scheduler
