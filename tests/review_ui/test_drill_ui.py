"""The drill director's page (/drill/) on a drill home of the shipped scenario: its buttons
move the replay through its states and send injects, a contradiction the checks catch on
the release page is counted in the drill report it makes; only admins reach it; and every
page of a drill home, and only of one, carries the 演练 banner."""

from __future__ import annotations

import json
import re
import threading

import pytest
import requests

from core.settings import Settings
from crisiswatch import publishing
from desk import facts, replay as replays
from desk.reports import Report
from desk.scenario import load
from desk.states import ReplayState
from desk.tables import Incident, KeptReport
from review_ui import create_app
from tests.conftest import csrf_token, html, log_in
from tests.crisiswatch.test_serve import start_serve

TYPHOON = load("binhai_typhoon")
BANNER = 'id="drill-banner"'


def home_playing(folder, kind: str):
    """A review UI over a home whose replay of the typhoon is of ``kind``; its people's
    passwords on ``app.passwords``."""
    settings = Settings.load(folder, database_url=f"sqlite:///{folder / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    app = create_app(settings)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        app.passwords = {name: password for name, password, *_ in replays.seed_organisations(session, TYPHOON)}
        replays.start(session, TYPHOON, kind, 60, actor="director")
    return app


@pytest.fixture
def drill(tmp_path):
    return home_playing(tmp_path / "drill", "drill")


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username, app.passwords[username]).status_code == 303
    return client


def press(client, action: str, page: str = "/drill/", **fields):
    return client.post(action, data={"csrf_token": csrf_token(html(client.get(page))), **fields})


def the_replay(app):
    with app.extensions["crisiswatch"].sessions() as session:
        found = replays.current(session)
        return found.state, replays.sent_injects(session, found), found.report_id


def test_the_directors_buttons_move_the_drill_and_send_its_injects(drill):
    director = client_of(drill, "director")
    page = html(director.get("/drill/"))
    assert "<h1>演练导调</h1>" in page and "待开始" in page and 'id="drill-run"' in page and 'id="drill-pause"' not in page
    assert page.count('id="inject-') == len(TYPHOON.injects) and "《滨海晚报》记者来电" in page
    assert "0:00:00" in page and "24:00:00" in page

    for step, state, buttons in (("run", ReplayState.RUNNING, ("pause", "end")),
                                 ("pause", ReplayState.PAUSED, ("resume", "end")),
                                 ("resume", ReplayState.RUNNING, ("pause", "end"))):
        moved = press(director, f"/drill/{step}")
        assert moved.status_code == 303 and moved.headers["Location"] == "/drill/"
        assert the_replay(drill)[0] == state
        shown = html(director.get("/drill/"))
        assert [b for b in ("run", "pause", "resume", "end") if f'id="drill-{b}"' in shown] == list(buttons), step
    assert "进行中" in shown and "data-running" in shown and "drill.js" in shown

    refused = press(director, "/drill/run")  # running already: said, and nothing changes
    assert refused.status_code == 303 and the_replay(drill)[0] == ReplayState.RUNNING
    assert "不能执行" in html(director.get("/drill/"))

    assert press(director, "/drill/injects/i01").status_code == 303
    state, sent, _ = the_replay(drill)
    assert list(sent) == ["i01"]
    row = re.search(r'<tr id="inject-i01">.*?</tr>', html(director.get("/drill/")), re.S).group(0)
    assert "<button" not in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)
    assert press(director, "/drill/injects/nope").status_code == 303 and list(the_replay(drill)[1]) == ["i01"]

    # a drafter's release contradicts the fact sheet; the checks refuse its approval on the release page
    with drill.extensions["crisiswatch"].sessions.begin() as session:
        grid = replays.side_organisations(session, TYPHOON)["grid"]
        incident = session.get(Incident, replays.current(session).incident_id)
        facts.set_fact(session, replays.side_user(session, grid, "drafter"), incident, "households", "48000")
        incident_id, grid_id = incident.id, grid.id
    drafter = client_of(drill, "grid_drafter")
    made = press(drafter, f"/incidents/{incident_id}/releases", f"/incidents/{incident_id}", title="停电情况通报",
                 body="滨海市约3.2万户停电，预计今日20:00前恢复供电。", channel="weibo", required=[str(grid_id)])
    release = made.headers["Location"]
    press(drafter, f"{release}/submit", release)
    approver = client_of(drill, "grid_approver")
    page = html(approver.get(release))
    shown = re.search(r'name="version" value="(\d+)"', page).group(1)
    assert press(approver, f"{release}/approve", release, version=shown).status_code == 303

    assert press(director, "/drill/end").status_code == 303 and the_replay(drill)[0] == ReplayState.ENDED
    ended = html(director.get("/drill/"))
    assert "已结束" in ended and not re.search(r'id="drill-(run|pause|resume|end)"', ended) and "<button" in ended
    reported = press(director, "/drill/report")
    assert reported.status_code == 303 and re.fullmatch(r"/reports/\d+", reported.headers["Location"])
    report_id = int(reported.headers["Location"].rsplit("/", 1)[1])
    assert the_replay(drill)[2] == report_id
    with drill.extensions["crisiswatch"].sessions() as session:
        kept = Report.from_dict(session.get(KeptReport, report_id).figures)
    assert kept.kind == "drill" and [caught["actor"] for caught in kept.sections["contradictions"]["caught"]] == [
        "grid_approver"]
    assert [inject["id"] for inject in kept.sections["drill"]["injects"] if inject["sent_at"]] == ["i01"]
    shown = html(director.get(reported.headers["Location"]))
    assert "演练报告：台风“海鸥”致滨海市多区停电" in shown and "<td>演练报告</td>" in html(director.get("/reports/"))
    assert f'href="/reports/{report_id}"' in html(director.get("/drill/"))
    assert "Drill director" in html(director.get("/drill/?lang=en"))


def test_an_inject_sent_twice_at_once_is_sent_once(drill, tmp_path):
    """A double click (or two directors) sends one inject in requests at once, to a server of
    two worker processes: each is told it is sent, none meets the unique row's error."""
    server, base = start_serve(Settings.load(tmp_path / "drill"), "--workers", "2")
    try:
        directors = [requests.Session() for _ in range(6)]
        for director in directors:
            found = csrf_token(director.get(f"{base}/login").text)
            director.post(f"{base}/login", data={"csrf_token": found, "username": "director",
                                                 "password": drill.passwords["director"]})
        tokens = [csrf_token(director.get(f"{base}/drill/").text) for director in directors]
        answers = []

        def send(director, token, inject, ready):
            ready.wait()
            answers.append(director.post(f"{base}/drill/injects/{inject}", data={"csrf_token": token},
                                         allow_redirects=False).status_code)

        for inject in TYPHOON.injects:  # a race: each inject in its turn
            ready = threading.Barrier(len(directors))
            threads = [threading.Thread(target=send, args=(*pair, inject.id, ready)) for pair in zip(directors, tokens)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        server.terminate()
        server.wait()
    assert answers == [303] * len(answers) and sorted(the_replay(drill)[1]) == sorted(i.id for i in TYPHOON.injects)


def test_only_the_director_and_other_admins_steer_a_drill(drill):
    analyst = client_of(drill, "grid_analyst")
    assert analyst.get("/drill/").status_code == 403
    assert press(analyst, "/drill/pause", "/").status_code == 403
    assert 'href="/drill/"' not in html(analyst.get("/"))  # the banner links the page for admins only
    director = client_of(drill, "director")
    assert director.post("/drill/run").status_code == 400  # no CSRF token
    assert the_replay(drill)[0] == ReplayState.READY
    assert drill.test_client().get("/drill/").status_code in (302, 303)  # to the login page


def test_every_page_of_a_drill_home_says_it_is_a_drill(drill, tmp_path):
    anonymous = drill.test_client()
    login = html(anonymous.get("/login"))
    assert BANNER in login and "演练" in login and "台风“海鸥”致滨海市多区停电" in login
    director = client_of(drill, "director")
    for page in ("/", "/incidents/", "/reports/", "/alerts/", "/stories/", "/admin/", "/drill/"):
        shown = html(director.get(page))
        assert BANNER in shown and 'href="/drill/"' in shown, page
    assert "DRILL" in html(director.get("/?lang=en"))
    demo = home_playing(tmp_path / "demo", "demo")  # the living demo is not a drill
    assert BANNER not in html(demo.test_client().get("/login"))
    assert BANNER not in html(client_of(demo, "director").get("/drill/"))


def test_an_ended_drills_banner_says_it_has_ended_and_links_its_report_for_admins(drill):
    director, analyst = client_of(drill, "director"), client_of(drill, "grid_analyst")
    assert "正在进行演练" in html(analyst.get("/")) and "演练已结束" not in html(analyst.get("/"))
    press(director, "/drill/run")
    press(director, "/drill/end")
    banner = re.search(r'<p class="drill-banner".*?</p>', html(analyst.get("/")), re.S).group(0)
    assert "演练已结束" in banner and "正在进行" not in banner and "台风“海鸥”致滨海市多区停电" in banner
    assert "has ended" in html(analyst.get("/?lang=en"))
    report_id = int(press(director, "/drill/report").headers["Location"].rsplit("/", 1)[1])
    banner = re.search(r'<p class="drill-banner".*?</p>', html(director.get("/")), re.S).group(0)
    assert "演练已结束" in banner and f'href="/reports/{report_id}"' in banner
    assert "/reports/" not in re.search(r'<p class="drill-banner".*?</p>', html(analyst.get("/")), re.S).group(0)


def test_a_sent_inject_reaches_its_teams_pages_and_channels_not_the_other_sides(drill, tmp_path):
    """The director sends i01 (a journalist's call) to the grid: the grid's people see it at
    the top of every page and on the incident page, the city's do not; it is queued with
    the send and reaches the grid's file channel once, marked as a drill's."""
    settings = Settings.load(tmp_path / "drill")
    settings.channels_file.write_text("".join(
        f'[[organisation]]\nname = "{side.name}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
        f'folder = "exports/{side.key}"\n\n' for side in TYPHOON.organisations), encoding="utf-8")
    director = client_of(drill, "director")
    press(director, "/drill/run")
    grid, city = client_of(drill, "grid_analyst"), client_of(drill, "city_analyst")
    incident = f"/incidents/{the_replay_incident(drill)}"
    assert 'id="drill-inject"' not in html(grid.get("/alerts/"))

    assert press(director, "/drill/injects/i01").status_code == 303
    call = "《滨海晚报》记者来电"
    for page in ("/", "/alerts/", incident):
        shown = html(grid.get(page))
        assert 'id="drill-inject"' in shown and "情景注入（记者来电" in shown and call in shown, page
        assert call not in html(city.get(page)), page
    assert 'id="team-inject-i01"' in html(grid.get(incident)) and 'id="team-injects"' not in html(city.get(incident))
    assert "Inject (Journalist" in html(grid.get("/?lang=en"))

    assert publishing.deliver_alerts(settings) == []  # no alerts; the inject's notice goes
    publishing.deliver_alerts(settings)  # and once only
    (written,) = (settings.home / "exports" / "grid").iterdir()
    sent = json.loads(written.read_text(encoding="utf-8"))
    assert sent["title"] == "【演练】情景注入：记者来电" and call in sent["text"]
    assert sent["link"].endswith(incident) and written.name.startswith("notice-inject-")
    assert not (settings.home / "exports" / "city").exists()


def the_replay_incident(app) -> int:
    with app.extensions["crisiswatch"].sessions() as session:
        return replays.current(session).incident_id
