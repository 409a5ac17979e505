"""A short drill end to end, in a real browser: ``crisiswatch drill start binhai_typhoon
--speed 600`` (the scenario's day in 144 s) in a child process, its director starting it
on /drill/, the live site's posts crawled, tagged and indexed and the rumor's alert
raised, the director pausing while an analyst acknowledges the alert, the two sides' joint
answer drafted from the fact sheet, approved by both and published by the scheduler, the
drill resumed and ended and its report made, whose scores are checked against the scenario's known
times; the inject the director sends shows at the top of the grid's pages, not the
city's. Screenshots of the incident's dashboard while the drill runs, the director's page,
the grid's view of its inject and the drill report go to the test's tmp folder, and with
CRISISWATCH_SCREENSHOTS=1 (``make screenshots``) to docs/screenshots/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.settings import Settings
from core.store import PostRow, Store
from desk import replay as replays
from desk.database import open_sessions
from desk.facts import current_facts
from desk.reports import Report
from desk.scenario import load
from desk.states import ReleaseState
from desk.tables import Alert, Incident, KeptReport, Release
from tests.conftest import REPO, free_port
from tests.review_ui.test_browser import CHROMIUM, SCREENSHOTS, VIEWPORT, _has_cjk_font, _playwright, click

pytestmark = pytest.mark.slow

TYPHOON = load("binhai_typhoon")
RUMOR = next(post for post in TYPHOON.posts if post.id == "w398")  # the post the city's release g02 answers
SPEED = 600
PEOPLE = re.compile(r"^\s+(\w+)\s+password (\S+)\s", re.M)


class Drill:
    """The drill's child process, its output, and its home's database."""

    def __init__(self, home: Settings, tmp_path: Path):
        self.port = free_port()
        env = {**os.environ, "CRISISWATCH_HOME": str(home.home), "CRISISWATCH_DATA": str(tmp_path / "no-data"),
               "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crisiswatch", "drill", "start", TYPHOON.name, "--speed", str(SPEED),
             "--port", str(self.port)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def said(self) -> str:
        return "".join(self.lines)

    def wait(self, what: str, found, seconds: float):
        """``found()`` once it is true, within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the drill stopped while waiting for {what}:\n{self.said[-3000:]}"
            value = found()
            if value:
                return value
            time.sleep(2)
        raise AssertionError(f"no {what} within {seconds} s:\n{self.said[-3000:]}")

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/login", timeout=2).close()
            return True
        except OSError:
            return False

    def sessions(self):
        folder = Path(re.search(r"prepared in (\S+)", self.said).group(1))
        settings = Settings.load(folder)
        store = Store(settings.database_url)
        return store, open_sessions(store.engine, folder)

    def look(self, read):
        """``read(session)`` on the drill's database."""
        store, sessions = self.sessions()
        try:
            with sessions() as session:
                return read(session)
        finally:
            store.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)


def rumor_alert(session):
    """(the first alert naming a post of the rumor's cluster, the cluster), once there is one."""
    cluster = session.scalar(select(PostRow.cluster).where(PostRow.platform == RUMOR.platform,
                                                           PostRow.platform_id == TYPHOON.stored_id(RUMOR.id)))
    if cluster is None:
        return None
    posts = set(session.scalars(select(PostRow.id).where(PostRow.cluster == cluster)))
    found = [alert for alert in session.scalars(select(Alert).order_by(Alert.id)) if posts & set(alert.post_ids)]
    return (found[0].id, cluster) if found else None


def posts(session) -> int:
    return session.scalar(select(func.count()).select_from(PostRow))


def fact_sheet(session):
    """The drill's incident and the values of its fact sheet, which the answer quotes."""
    incident = session.get(Incident, replays.current(session).incident_id)
    return incident.id, {key: fact.value for key, fact in current_facts(session, incident).items()}


def test_a_short_drill_from_its_start_to_its_report_in_the_browser(home, tmp_path):
    sync_playwright = _playwright()
    drill = Drill(home, tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        drill.wait("review UI", drill.answers, 120)
        passwords = dict(PEOPLE.findall(drill.said))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])

            def log_in(username: str):
                page = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
                page.set_default_timeout(20_000)
                page.goto(f"{drill.url}/login")
                assert "演练" in page.inner_text("#drill-banner")
                page.fill("section.login input[name=username]", username)
                page.fill("section.login input[name=password]", passwords[username])
                click(page, "section.login button[type=submit]")
                return page

            def screenshot(page, name: str, full_page: bool = True) -> None:
                page.screenshot(path=str(shots / name), full_page=full_page)
                if os.environ.get("CRISISWATCH_SCREENSHOTS") == "1" and _has_cjk_font():
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    (SCREENSHOTS / name).write_bytes((shots / name).read_bytes())

            director = log_in("director")
            director.goto(f"{drill.url}/drill/")
            assert "待开始" in director.inner_text("#drill-state")
            click(director, "#drill-run")
            assert "进行中" in director.inner_text("#drill-state")

            alert_id, cluster = drill.wait("alert on the rumor", lambda: drill.look(rumor_alert), 300)
            click(director, "#drill-pause")  # the fact sheet holds still while the teams answer
            director.goto(f"{drill.url}/drill/#drill-injects")
            click(director, "#inject-i01 button")
            screenshot(director, "drill.png")

            analyst = log_in("city_analyst")  # the monitoring scheme is the city's
            analyst.goto(f"{drill.url}/alerts/{alert_id}")
            assert analyst.query_selector("#drill-inject") is None  # i01 is the grid's
            click(analyst, "form[action$='/acknowledge'] button")

            incident_id, facts = drill.look(fact_sheet)
            body = ("网传“滨海市全城停电三天”不实。" + (f"目前停电{facts['households']}户，" if "households" in facts else "")
                    + (f"涉及{'、'.join(facts['affected_areas'])}，" if "affected_areas" in facts else "")
                    + (f"预计{facts['restoration_estimate']}前恢复供电。" if "restoration_estimate" in facts else "")
                    + "报修请拨打95598。")
            drafter = log_in("grid_drafter")
            drafter.goto(f"{drill.url}/incidents/{incident_id}")
            assert "记者来电" in drafter.inner_text("#drill-inject") and drafter.query_selector("#team-inject-i01")
            screenshot(drafter, "drill-inject.png", full_page=False)
            drafter.goto(f"{drill.url}/incidents/{incident_id}?cluster={cluster}")
            drafter.fill("#releases input[name=title]", "关于网传“全城停电三天”的说明")
            drafter.fill("#releases textarea[name=body]", body)
            for side in TYPHOON.organisations:
                drafter.check(f"#releases label:has-text('{side.name}') input[name=required]")
            drafter.check("#releases input[name=joint]")
            click(drafter, "#releases button[type=submit]")
            release_url = drafter.url
            assert "/releases/" in release_url, drafter.content()[:3000]
            click(drafter, "button[value=submit]")
            for approver in ("grid_approver", "city_approver"):
                page = log_in(approver)
                page.goto(release_url)
                click(page, "button[value=approve]")
                assert not page.query_selector(".flash-error"), page.inner_text(".flash-error")
            publisher = log_in("grid_publisher")
            publisher.goto(release_url)
            click(publisher, "button[value=schedule]")
            release_id = int(release_url.rsplit("/", 1)[1])
            drill.wait("publication", lambda: drill.look(
                lambda session: session.get(Release, release_id).state == ReleaseState.PUBLISHED), 120)

            director.goto(f"{drill.url}/drill/")
            click(director, "#drill-resume")  # the posts move again while the dashboard is shown
            stored = drill.look(posts)
            drill.wait("more posts", lambda: drill.look(posts) > stored, 120)
            director.goto(f"{drill.url}/incidents/{incident_id}/dashboard")
            for chart in ("volume", "sentiment", "emotion", "topics", "places"):
                director.wait_for_selector(f"#chart-{chart} canvas", state="attached")
            director.wait_for_function("() => Array.from(document.querySelectorAll('.chart canvas')).every("
                                       "c => c.width > 0 && c.height > 0)")
            director.wait_for_timeout(1500)  # the charts' opening animation
            screenshot(director, "live-dashboard.png")
            director.goto(f"{drill.url}/drill/")
            click(director, "#drill-end")
            click(director, "#drill-report")
            assert "演练报告" in director.inner_text("h1")
            report_id = int(director.url.rsplit("/", 1)[1])
            framed = browser.new_context(viewport=VIEWPORT).new_page()
            framed.context.add_cookies(director.context.cookies())
            framed.goto(f"{drill.url}/reports/{report_id}/file.html?view=1")
            screenshot(framed, "drill-report.png")
            browser.close()

        def scores(session):
            played = replays.current(session)
            alert, release = session.get(Alert, alert_id), session.get(Release, release_id)
            report = Report.from_dict(session.get(KeptReport, report_id).figures)
            return played, alert, release, report

        played, alert, release, report = drill.look(scores)
    finally:
        drill.stop()

    first = played.started_at.replace(tzinfo=timezone.utc) + RUMOR.at / SPEED  # no pause before the rumor
    (rumor,) = report.sections["rumors"]["rumors"]
    assert rumor["post"] == RUMOR.id and rumor["cluster"] == cluster
    assert abs((datetime.fromisoformat(rumor["first_post_at"]) - first).total_seconds()) < 0.001
    steps = {step["step"]: step for step in rumor["steps"]}
    for step, at in (("alert", alert.opened_at), ("acknowledgement", alert.acknowledged_at),
                     ("publication", release.published_at)):
        assert steps[step]["after_s"] == pytest.approx((at.replace(tzinfo=timezone.utc) - first).total_seconds()), step
    assert 0 < steps["alert"]["after_s"] < steps["acknowledgement"]["after_s"] < steps["approval"]["after_s"] \
        <= steps["publication"]["after_s"]
    assert steps["alert"]["scenario_after_s"] == pytest.approx(steps["alert"]["after_s"] * SPEED, abs=1)
    assert [inject["id"] for inject in report.sections["drill"]["injects"] if inject["sent_at"]] == ["i01"]
    assert report.sections["approvals"]["longest"] and report.sections["summary"]["sentences"]
    assert "drill stopped" in drill.said
