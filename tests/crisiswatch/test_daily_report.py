"""The scheduler's daily report: its time setting, its job (08:00 China time, made at
start when the scheduler was down then, none when "off"), and one report for one day
when two schedulers make it at once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from core.schema import CHINA_TZ
from core.settings import Settings
from crisiswatch import publishing
from crisiswatch.schedule import _daily_report, start_scheduler
from desk.tables import KeptReport
from tests.desk.report_home import DAY, report_home


def test_the_time_of_the_daily_report_is_a_time_of_day_or_off(tmp_path, monkeypatch):
    assert Settings.load(tmp_path).daily_report_at == "08:00"
    for good in ("07:30", "off", "23:59"):
        monkeypatch.setenv("CRISISWATCH_DAILY_REPORT_AT", good)
        assert Settings.load(tmp_path).daily_report_at == good
    for wrong in ("8:00", "24:00", "08:60", "morning", ""):
        monkeypatch.setenv("CRISISWATCH_DAILY_REPORT_AT", wrong)
        with pytest.raises(ValueError, match="CRISISWATCH_DAILY_REPORT_AT"):
            Settings.load(tmp_path)


def test_the_job_runs_each_morning_at_once_when_started_after_its_time_and_not_when_off(home):
    scheduler = start_scheduler(home, {}, run_now=False)
    try:
        job = scheduler.get_job(publishing.DAILY_REPORT_JOB_ID)
        assert job.func is publishing.daily_report and (job.next_run_time.hour, job.next_run_time.minute) == (8, 0)
    finally:
        scheduler.shutdown()
    paused = BackgroundScheduler(timezone=CHINA_TZ)
    paused.start(paused=True)
    try:
        morning = datetime(2024, 7, 25, 6, 0, tzinfo=CHINA_TZ)
        _daily_report(paused, home, morning, run_now=True)  # before 08:00: at the next 08:00
        planned = paused.get_job(publishing.DAILY_REPORT_JOB_ID).next_run_time
        assert (planned.hour, planned.minute) == (8, 0) and planned > datetime.now(CHINA_TZ)
        later = morning.replace(hour=10)
        _daily_report(paused, home, later, run_now=True)  # down at 08:00: at once
        assert paused.get_job(publishing.DAILY_REPORT_JOB_ID).next_run_time == later
        _daily_report(paused, replace(home, daily_report_at="off"), later, run_now=True)
        assert paused.get_job(publishing.DAILY_REPORT_JOB_ID) is None
    finally:
        paused.shutdown()


def test_two_schedulers_at_once_make_one_report_of_the_day(tmp_path):
    settings = report_home(tmp_path / "home")
    morning = DAY + timedelta(days=1, hours=8)
    made, start = [], threading.Barrier(2)

    def run():
        start.wait()
        made.append(publishing.daily_report(settings, morning))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 2 and made.count(None) == 1  # one made it, the other found it made
    with publishing.sessions(settings.database_url, settings.home)() as session:
        assert session.scalars(select(KeptReport.scheduled_day)).all() == [DAY.date()]
