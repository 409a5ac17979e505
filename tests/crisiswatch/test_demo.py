"""`crisiswatch demo`: the main job, started as a user starts it, used over HTTP, stopped with Ctrl-C."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from core.schema import CHINA_TZ
from core.store import PostRow, Store
from crawlers.loopback import demo_site, serve_directory
from indexes.backends import open_index
from crisiswatch import stages
from crisiswatch.demo import demo_scenario, scenario_start, seed_people, seed_scenario
from desk import facts
from desk.database import open_sessions
from desk.outbox import load_channels
from desk.reports import make_report
from desk.spread import spread_of_post
from desk.tables import Incident
from review_ui import create_app, i18n
from tests.conftest import REPO, csrf_token, free_port

pytestmark = pytest.mark.slow  # every test here starts a process or a server

browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(url, data=None):
    with browser.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def log_in(base: str, output: list[str]) -> None:
    """Log in as the analyst with the password the demo printed when it made the user."""
    printed = re.search(r"demo user analyst\s+password (\S+)", "".join(output))
    assert printed, "".join(output)
    _, page = get(f"{base}/login")
    status, _ = get(f"{base}/login", {"csrf_token": csrf_token(page), "username": "analyst",
                                      "password": printed.group(1)})
    assert status == 200  # redirected to the search page


def test_demo_crawls_tags_indexes_and_serves(home_with_models):
    port = free_port()
    env = {**os.environ, "CRISISWATCH_HOME": str(home_with_models.home)}
    # Started as a shell starts a background job, with SIGINT ignored: Ctrl-C must still stop it.
    demo = subprocess.Popen([sys.executable, "-m", "crisiswatch", "demo", "--port", str(port), "--no-sample"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    reader = threading.Thread(target=lambda: [output.append(line) for line in demo.stdout], daemon=True)
    reader.start()  # the demo's output as it comes: the passwords it prints are needed to log in
    try:
        deadline, found, logged_in = time.monotonic() + 180, None, False
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                if not logged_in and any("review UI on" in line for line in output):
                    log_in(base, output)
                    logged_in = True
                # 停电, until the end of 2024: the demo site's posts of July 2024, not the scenario's day just past
                _, body = get(f"{base}/api/search?q=%E5%81%9C%E7%94%B5&per_page=50&until=2024-12-31")
                found = json.loads(body)
                if {"news", "gov"} <= {f["value"] for f in found["facets"]["platform"]}:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert found and found["total"] >= 10, found
        assert all(hit["tags"] for hit in found["hits"])  # tagged before it was indexed
        status, page = get(f"{base}/?q=%E5%8F%B0%E9%A3%8E")  # 台风
        assert status == 200 and "滨海" in page and "<mark>" in page and 'lang="zh-CN"' in page
        _, body = get(f"{base}/api/search?q=" + urllib.parse.quote('"全城停电三天"') + "&per_page=50")
        rumor = json.loads(body)  # the scenario's rumor, seeded as the day just past, tagged and indexed
        assert rumor["total"] >= 10 and any(hit["platform"] == "weibo" and hit["tags"] for hit in rumor["hits"])
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        reader.join(timeout=10)
    output = "".join(output)
    assert demo.returncode == 0, output
    assert "review UI on" in output and "demo stopped" in output
    assert "alerts on the demo site's posts: once its news and notices are crawled and indexed" in output
    assert all(f"demo user {name}" in output for name in ("admin", "grid_drafter", "city_approver"))


def _demo(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The demo on an empty home without training data (lexicon fallback: nothing to train)."""
    env = {**os.environ, "CRISISWATCH_HOME": str(tmp_path / "home"), "CRISISWATCH_DATA": str(tmp_path / "no-data")}
    return subprocess.run([sys.executable, "-m", "crisiswatch", "demo", "--no-sample", *args], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)


def test_demo_on_a_port_in_use_says_so_before_starting_anything(tmp_path):
    """Another demo (or any server) on the port: a clear error at once, not five of
    gunicorn's bind errors buried in the output, then exit 0 after training and importing."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = _demo(tmp_path, "--port", str(port))
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert f"port {port} on 127.0.0.1 is in use" in demo.stderr and "CRISISWATCH_PORT=N" in demo.stderr
    assert "demo user" not in demo.stdout  # nothing was started: no users made, no crawls, no training


def test_demo_fails_when_its_review_ui_cannot_start(tmp_path):
    """An address that is not this machine's (TEST-NET-1): the UI cannot bind it, and the
    demo, left without its UI, stops with a failure status instead of 0."""
    demo = _demo(tmp_path, "--host", "192.0.2.1", "--port", str(free_port()))
    assert demo.returncode == 1, demo.stdout + demo.stderr
    assert "the review UI stopped (exit 1)" in demo.stderr and "demo stopped" in demo.stdout


def test_the_demo_site_refuses_a_port_another_server_holds_and_shares_one_a_demo_serves(tmp_path):
    """Another site on the demo site's port: an error naming the port (every crawl of it
    would fail), not the demo saying it serves the site; a demo's own site there is shared."""
    (tmp_path / "index.html").write_text("another site", encoding="utf-8")
    other, _ = serve_directory(tmp_path)
    port = other.server_address[1]
    try:
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is in use by something that is not the demo site"):
            demo_site(port=port)
    finally:
        other.shutdown()
        other.server_close()
    site, url = demo_site(port=free_port())
    try:
        assert demo_site(port=site.server_address[1]) == (None, url)
    finally:
        site.shutdown()
        site.server_close()


def test_the_scenario_is_seeded_once_as_the_day_just_past_with_its_incident_facts_and_places(home):
    """On a fresh home the typhoon's day ends now: its incident starts at the scenario's
    start, its facts change at their times, its posts are stored once (a second seeding,
    as after a restart or a killed run, adds none) and tagged by the demo's own stage, its
    rumor's reposts form one tree, which its special report draws, and its places are its
    fictional districts."""
    typhoon, end = demo_scenario(), datetime(2026, 7, 26, 4, 0, tzinfo=timezone.utc)
    start = end - typhoon.length
    store = Store(home.database_url)
    try:
        seed_people(home, store, end=end)
        channels = load_channels(home.channels_file)  # a report sent and the daily report go to each's archive
        assert all([c.kind for c in found] == ["file"] for found in channels.values())
        organisations = tomllib.loads(home.channels_file.read_text(encoding="utf-8"))["organisation"]
        assert [org["daily_report"] for org in organisations] == [["archive"]] * len(channels)
        assert seed_scenario(home, store) == len(typhoon.posts) + len(typhoon.releases)
        seed_people(home, store)  # a restart the next day: the incident and its day stay where they are
        assert seed_scenario(home, store) == 0 and scenario_start(home, store) == start
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(PostRow)).scalar() == len(typhoon.posts) + 5
            times = dict(conn.execute(select(PostRow.platform_id, PostRow.created_at)).all())
        assert all(times[typhoon.stored_id(p.id)] == (start + p.at).replace(tzinfo=None) for p in typhoon.posts)
        assert max(times.values()) <= end.replace(tzinfo=None)

        with open_sessions(store.engine, home.home)() as session:
            [incident] = session.query(Incident).all()
            history = facts.fact_history(session, incident, "households")
            assert (incident.title, incident.started_at) == (typhoon.title, start.replace(tzinfo=None))
        expected = [f for f in typhoon.facts if f.key == "households"]
        assert [(row.value, row.updated_at) for row in history] == [
            (fact.value, (start + fact.at).replace(tzinfo=None)) for fact in expected]

        stages.tag(home, store, quiet=True)
        [root] = [r for r in typhoon.releases if r.answers][0].answers
        with store.engine.connect() as conn:
            root_id = conn.execute(select(PostRow.id).where(PostRow.platform_id == typhoon.stored_id(root))).scalar()
        spread = spread_of_post(store, root_id)
        reposts = {typhoon.stored_id(post.id) for post in typhoon.posts if post.kind == "repost"}
        assert len(spread.roots) == 1 and reposts <= {node.platform_id for node in spread.nodes.values()}
        assert spread.first_source.id == root_id and max(node.depth for node in spread.nodes.values()) >= 3

        stages.index(home, store, quiet=True)  # its special report draws the rumor's tree and the fact history
        with open_sessions(store.engine, home.home)() as session:
            incident = session.query(Incident).one()
            report = make_report("special", store, open_index(home), session, [], incident=incident, now=end,
                                 places=home.own_places)
        spread, timeline = report.sections["spread"], report.sections["psr"]
        assert (spread["root"]["id"], spread["reposts"]) == (root_id, len(reposts)) and spread["depth"] >= 3
        first = (start + expected[0].at).astimezone(CHINA_TZ).isoformat()
        assert timeline["state"]["households"][0] == {"at": first, "value": 32000}

        own = {place.code for place in typhoon.places}
        places = [tags["places"] for post in store.get_posts(range(1, 800)).values() if (tags := post.get("tags"))]
        assert len(places) == len(typhoon.posts) + 5
        assert {code for codes in places for code in codes} == own | {"460000"}  # 海南省: the map colours it
        named = report.sections["places"]["names"]  # the report names them as the pages do
        assert own & set(named) and all(named[code] == place.name for place in typhoon.places if (code := place.code) in named)
    finally:
        store.close()
    with create_app(home).test_request_context("/"):  # the pages name the home's own places
        assert [i18n.label("places", code) for code in ("460502", "360102", "460000")] == ["东湖区", "东湖区", "海南省"]
