"""The scheduler's job store on disk: a restart neither loses nor repeats a run; refused
crawls back off. Runs the real scheduler against a real store (and one real crawl)."""

import socket
import threading
import time
from datetime import datetime, timedelta

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from core.schema import CHINA_TZ
from core.store import Store
from crawlers.jobs import load_jobs
from crisiswatch import publishing
from crisiswatch.schedule import BACKOFF_FIRST, back_off, label, start_scheduler
from crisiswatch import stages
from crisiswatch.stages import run_job_cycle

pytestmark = pytest.mark.slow  # every test here starts a process or a server

YEARLY = "0 0 1 1 *"


@pytest.fixture
def jobs():
    job = load_jobs()["demo-releases"]
    return {job.name: type(job)(**{**job.__dict__, "schedule": YEARLY})}


def stored_jobs(home) -> SQLAlchemyJobStore:
    """The job store on disk, read directly (no scheduler runs anything)."""
    store = SQLAlchemyJobStore(url=home.database_url, tablename="scheduled_jobs")
    store.start(BackgroundScheduler(timezone=CHINA_TZ), "default")  # an idle scheduler lends its time zone
    return store


def test_a_restart_keeps_each_jobs_next_run(home, jobs):
    first = start_scheduler(home, jobs, run_now=False)
    planned = first.get_job("demo-releases").next_run_time
    first.shutdown()
    assert planned.month == 1 and planned.day == 1 and planned > datetime.now(CHINA_TZ)
    again = start_scheduler(home, jobs, run_now=True)  # run_now is for jobs it has never seen
    assert again.get_job("demo-releases").next_run_time == planned
    again.shutdown()
    assert stored_jobs(home).lookup_job("demo-releases").next_run_time == planned


def test_a_run_missed_while_down_runs_once_at_restart(home, jobs):
    start_scheduler(home, jobs, run_now=False).shutdown()
    # the scheduler was down when the job was due: move its stored next run into the past
    on_disk = stored_jobs(home)
    job = on_disk.lookup_job("demo-releases")
    job._modify(next_run_time=datetime.now(CHINA_TZ) - timedelta(days=3))
    on_disk.update_job(job)

    scheduler = start_scheduler(home, jobs)
    records = Store(home.database_url)
    try:
        for _ in range(600):
            runs = records.last_crawl_runs()
            if runs and runs[0]["status"] != "running" and sum(c.indexed for c in records.counts()) == 4:
                break
            time.sleep(0.2)
        assert [r["status"] for r in records.last_crawl_runs()] == ["ok"]
        assert records.recent_run_statuses("demo-releases", 10) == ["ok"]  # once, not once per missed day
        assert scheduler.get_job("demo-releases").next_run_time.month == 1
    finally:
        scheduler.shutdown()
        records.close()


def test_a_scheduled_crawl_runs_the_crawlers_entry_point_then_tags_and_indexes(home, jobs, tmp_path, monkeypatch):
    """Its child process runs `python -m crawlers.run`, not the command line: it crawls even
    where a broken crisiswatch package comes first on the path."""
    shadow = tmp_path / "shadow" / "crisiswatch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the crawl went through the crisiswatch package')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    monkeypatch.chdir(tmp_path)  # `python -m` puts the working folder first on the path
    run_job_cycle(home, jobs["demo-releases"])
    log = (home.home / "logs" / "crawl-demo-releases.log").read_text()
    assert "crawl demo-releases: ok; " in log and "stored 4 new posts" in log, log[-3000:]
    store = Store(home.database_url)
    try:
        assert [(c.stored, c.indexed) for c in store.counts()] == [(4, 4)] and store.count_to_tag() == 0
    finally:
        store.close()


def test_an_interrupted_run_is_run_again_and_marked(home, jobs):
    start_scheduler(home, jobs, run_now=False).shutdown()
    store = Store(home.database_url)
    store.start_crawl_run("demo-releases", "releases")  # its process was killed: it never finished
    scheduler = start_scheduler(home, jobs)
    try:
        assert scheduler.get_job("demo-releases").next_run_time <= datetime.now(CHINA_TZ)
    finally:
        scheduler.shutdown(wait=False)
    assert store.recent_run_statuses("demo-releases", 10)[-1] == "interrupted"
    store.close()


def test_refused_crawls_back_off_doubling(home, jobs):
    store = Store(home.database_url)
    scheduler = start_scheduler(home, {}, run_now=False)
    try:
        scheduler.add_job(print, "cron", minute="*", id="demo-releases")
        for status, expected in (("ok", None), ("blocked", BACKOFF_FIRST), ("cookie expired", 2 * BACKOFF_FIRST)):
            run = store.start_crawl_run("demo-releases", "weibo")
            store.finish_crawl_run(run, status=status, pages=1, stored=0, duplicates=0, rejected=0)
            before = scheduler.get_job("demo-releases").next_run_time
            back_off(scheduler, home, "demo-releases")
            after = scheduler.get_job("demo-releases").next_run_time
            if expected is None:
                assert after == before
            else:
                wanted = datetime.now(CHINA_TZ) + expected
                assert abs((after - wanted).total_seconds()) < 5
    finally:
        scheduler.shutdown(wait=False)
        store.close()


def test_the_alert_rules_and_their_notices_are_two_jobs_that_a_restart_keeps(home, jobs):
    start_scheduler(home, jobs, run_now=False).shutdown()
    scheduler = start_scheduler(home, jobs, run_now=False)
    try:
        rules, notices = scheduler.get_job(publishing.ALERTS_JOB_ID), scheduler.get_job(publishing.NOTICES_JOB_ID)
        assert rules.func is publishing.watch_alerts and rules.trigger.interval == timedelta(minutes=1)
        assert notices.func is publishing.deliver_alerts and notices.trigger.interval == timedelta(seconds=15)
        assert {job.id for job in scheduler.get_jobs()} == {"demo-releases", *publishing.JOB_IDS}
        planned = notices.next_run_time
        back_off(scheduler, home, publishing.NOTICES_JOB_ID)  # not a crawl: no back-off (of 30 min)
        # the job may have run in between (it runs at start), moving its next run by 15 s
        assert scheduler.get_job(publishing.NOTICES_JOB_ID).next_run_time - planned < timedelta(minutes=1)
    finally:
        scheduler.shutdown()
    assert stored_jobs(home).lookup_job(publishing.NOTICES_JOB_ID) is not None


def test_a_restart_of_a_home_holding_the_alert_job_of_before_the_split_ends_with_the_three_jobs(home, jobs):
    """The job store of a scheduler from before the alert job was split: one job "alerts"
    evaluating the rules and sending the notices, every minute."""
    old = BackgroundScheduler(timezone=CHINA_TZ, jobstores={"default": stored_jobs(home)})
    old.start(paused=True)
    old.add_job(publishing.watch_alerts, "interval", minutes=1, args=[home], id="alerts",
                name="evaluate and send alerts")
    old.shutdown()
    scheduler = start_scheduler(home, jobs, run_now=False)
    try:
        assert {job.id: label(job) for job in scheduler.get_jobs()} == {
            "demo-releases": "crawl job demo-releases", publishing.JOB_ID: "publishing",
            publishing.ALERTS_JOB_ID: "evaluate the alert rules",
            publishing.NOTICES_JOB_ID: "escalate alerts and send their notices",
            publishing.DAILY_REPORT_JOB_ID: "make the daily report"}
    finally:
        scheduler.shutdown()
    assert {job.id for job in stored_jobs(home).get_all_jobs()} == {"demo-releases", *publishing.JOB_IDS}


def test_stopping_the_crawls_ends_one_held_by_a_site_that_never_answers(home):
    """A scheduler that stops (the demo, `crisiswatch schedule`) stops its crawls in
    children: a crawl of a site that accepts and never answers would hold it for minutes."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the backlog), never answers
    home.jobs_file.write_text(f'[[job]]\nname = "silent"\nspider = "news"\nplatform = "news"\n'
                              f'start_urls = ["http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"]\n'
                              'keywords = ["停电"]\n', encoding="utf-8")
    (home.home / "logs").mkdir(parents=True, exist_ok=True)
    log = home.home / "logs" / "crawl-silent.log"
    crawl = threading.Thread(target=stages.crawl_in_child, args=(home, stages.jobs_of(home)["silent"]), daemon=True)
    try:
        crawl.start()
        deadline = time.monotonic() + 60
        while not log.exists() or "Crawled 0 pages" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, "the crawl did not start"
            time.sleep(0.5)
        started = time.monotonic()
        stages.stop_crawls()
        crawl.join(stages.STOP_GRACE + 20)
        assert not crawl.is_alive() and time.monotonic() - started <= stages.STOP_GRACE + 5
    finally:
        silent.close()
