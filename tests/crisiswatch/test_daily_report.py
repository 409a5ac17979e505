"""The scheduler's daily report: its time setting, its job (08:00 China time, made at
start when the scheduler was down then, none when "off"), one report for one day and
organisation when two schedulers make it at once, one per organisation that names
channels for it with the alerts its people see, a wrong channel list that keeps only its
organisation's report from being sent, and the days missed caught up."""

from __future__ import annotations

import logging
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
from desk import report_archive
from desk.outbox import load_channels
from desk.tables import KeptReport, Organisation, ReportDelivery, User
from tests.desk.report_home import DAY, report_home

ORG, OTHER = "滨海供电局", "海口市人民政府"  # report_home's organisation (its alert), and one without alerts


def write_channels(settings, daily_reports: dict[str, str]) -> None:
    """Each organisation a webhook channel "duty" (a receiver nobody reaches) and its daily_report line."""
    settings.channels_file.write_text("".join(
        f'[[organisation]]\nname = "{name}"\n{line}\n[[organisation.channel]]\nname = "duty"\nkind = "webhook"\n'
        f'url = "http://127.0.0.1:9/duty"\nsecret = "report-secret-0123456789abcdef"\n\n'
        for name, line in daily_reports.items()), encoding="utf-8")


def add_other(settings) -> User:
    with publishing.sessions(settings.database_url, settings.home)() as session, session.begin():
        other = Organisation(name=OTHER, kind="government", level="city")
        session.add(other)
        session.flush()
        reader = User(username="other", display_name="other", password_hash="x", org_id=other.id, roles=["analyst"])
        session.add(reader)
        session.flush()
        return reader.id


def kept_reports(settings) -> list[tuple[str, str]]:
    """(organisation, day) of each daily report, in the order they were made."""
    with publishing.sessions(settings.database_url, settings.home)() as session:
        return [(name, day.isoformat()) for name, day in session.execute(
            select(Organisation.name, KeptReport.scheduled_day).join(Organisation, Organisation.id == KeptReport.org_id)
            .order_by(KeptReport.id))]


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
    write_channels(settings, {ORG: 'daily_report = ["duty"]'})
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
    assert sorted(map(len, made)) == [0, 1]  # one made it, the other found it made
    with publishing.sessions(settings.database_url, settings.home)() as session:
        assert session.scalars(select(KeptReport.scheduled_day)).all() == [DAY.date()]


def test_each_organisation_naming_channels_gets_its_own_with_the_alerts_its_people_see(tmp_path):
    settings = report_home(tmp_path / "home")
    other_id = add_other(settings)
    write_channels(settings, {ORG: 'daily_report = ["duty"]', OTHER: 'daily_report = ["duty"]'})
    made = publishing.daily_report(settings, DAY + timedelta(days=1, hours=8))
    assert len(made) == 2 and kept_reports(settings) == [(ORG, "2024-07-24"), (OTHER, "2024-07-24")]
    with publishing.sessions(settings.database_url, settings.home)() as session:
        own, other = (session.get(KeptReport, report_id) for report_id in made)
        assert [a["key"] for a in own.figures["alerts"]["alerts"]] == ["爆炸"]  # its scheme's alert
        assert other.figures["alerts"]["alerts"] == []  # not another organisation's
        reader, duty = session.get(User, other_id), session.scalar(select(User).where(User.username == "duty"))
        assert [r.id for r in report_archive.visible(session, reader)] == [other.id]
        assert [r.id for r in report_archive.visible(session, duty)] == [own.id]
        assert {(d.report_id, d.org_id) for d in session.scalars(select(ReportDelivery))} == {
            (own.id, own.org_id), (other.id, other.org_id)}


def test_a_wrong_daily_report_list_keeps_only_its_organisations_report_from_being_sent(tmp_path, caplog):
    settings = report_home(tmp_path / "home")
    add_other(settings)
    write_channels(settings, {ORG: 'daily_report = ["nowhere"]', OTHER: 'daily_report = ["duty"]'})
    assert list(load_channels(settings.channels_file)) == [ORG, OTHER]  # alerts and releases still go
    with caplog.at_level(logging.WARNING):
        made = publishing.daily_report(settings, DAY + timedelta(days=1, hours=8))
    assert f"the daily report of {ORG} is made but sent nowhere" in caplog.text and "'nowhere'" in caplog.text
    assert kept_reports(settings) == [(ORG, "2024-07-24"), (OTHER, "2024-07-24")]
    with publishing.sessions(settings.database_url, settings.home)() as session:
        assert session.scalars(select(ReportDelivery.report_id)).all() == [made[1]]


def test_the_days_missed_since_the_last_report_are_made_oldest_first_at_most_a_week(tmp_path):
    settings = report_home(tmp_path / "home")
    write_channels(settings, {ORG: 'daily_report = ["duty"]'})
    assert len(publishing.daily_report(settings, DAY + timedelta(days=1, hours=8))) == 1
    # down on the 26th's and 27th's mornings (or the index was): the 28th makes three
    assert len(publishing.daily_report(settings, DAY + timedelta(days=4, hours=8))) == 3
    assert publishing.daily_report(settings, DAY + timedelta(days=4, hours=9)) == []
    assert [day for _, day in kept_reports(settings)] == ["2024-07-24", "2024-07-25", "2024-07-26", "2024-07-27"]
    assert len(publishing.daily_report(settings, DAY + timedelta(days=30, hours=8))) == report_archive.CATCH_UP
    assert [day for _, day in kept_reports(settings)][4:] == [f"2024-08-{d:02d}" for d in range(16, 23)]
