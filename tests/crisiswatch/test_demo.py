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

import pytest

from core.schema import make_post
from core.store import Store
from crawlers.loopback import demo_site, serve_directory
from crisiswatch.demo import SAMPLE_FILES, demo_scenario, import_sample
from crisiswatch.live import LIVE_JOBS, prepare_home
from desk import alerts, replay as replays
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.outbox import load_channels
from review_ui import create_app, i18n
from tests.conftest import DATA, REPO, csrf_token, free_port, need

pytestmark = pytest.mark.slow  # every test here starts a process or a server

browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def get(url, data=None):
    with browser.open(url, data=urllib.parse.urlencode(data).encode() if data else None, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def log_in(base: str, output: list[str]) -> None:
    """Log in as the city's analyst with the password the demo printed when it made the user."""
    printed = re.search(r"demo user city_analyst\s+password (\S+)", "".join(output))
    assert printed, "".join(output)
    _, page = get(f"{base}/login")
    status, _ = get(f"{base}/login", {"csrf_token": csrf_token(page), "username": "city_analyst",
                                      "password": printed.group(1)})
    assert status == 200  # redirected to the search page


def test_demo_crawls_tags_indexes_and_serves(home_with_models):
    """The scenario played live at its default speed: its first hours are there at once,
    its rumor within a minute or two, crawled from the live site, tagged and indexed."""
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
        deadline, found, rumor, logged_in = time.monotonic() + 240, None, None, False
        while time.monotonic() < deadline and demo.poll() is None:
            try:
                if not logged_in and any("review UI on" in line for line in output):
                    log_in(base, output)
                    logged_in = True
                _, body = get(f"{base}/api/search?q=%E5%81%9C%E7%94%B5&per_page=50")  # 停电
                found = json.loads(body)
                _, body = get(f"{base}/api/search?q=" + urllib.parse.quote('"全城停电三天"') + "&per_page=50")
                rumor = json.loads(body)  # the scenario's rumor, at 4h15m
                if {"weibo", "tieba", "news"} <= {f["value"] for f in found["facets"]["platform"]} and any(
                        hit["platform"] == "weibo" and hit["tags"] for hit in rumor["hits"]):
                    break  # the rumor's comments on other platforms may come a crawl before it
            except OSError:
                pass
            time.sleep(1)
        assert found and found["total"] >= 10, found
        assert all(hit["tags"] for hit in found["hits"])  # tagged before it was indexed
        assert rumor and any(hit["platform"] == "weibo" and hit["tags"] for hit in rumor["hits"]), rumor
        status, page = get(f"{base}/?q=%E5%8F%B0%E9%A3%8E")  # 台风
        assert status == 200 and "滨海" in page and "<mark>" in page and 'lang="zh-CN"' in page
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        reader.join(timeout=10)
    output = "".join(output)
    assert demo.returncode == 0, output
    assert "review UI on" in output and "demo stopped" in output and "a demo at 48 times the clock, running" in output
    assert all(f"demo user {name}" in output for name in ("director", "grid_drafter", "city_approver"))


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


def test_a_live_home_is_prepared_once_with_its_places_jobs_channels_scheme_and_scaled_clocks(home):
    """What the live runner gives a home beside the scenario's people: its fictional
    districts in the places file (the pages name them), the live site's jobs, a file
    channel per side (a report sent and the daily report go to its archive), the scheme
    whose rules and the 5 h and 24 h clocks run at the replay's speed; again, nothing new."""
    typhoon = demo_scenario()
    store = Store(home.database_url)
    sessions = open_sessions(store.engine, home.home)
    try:
        with sessions() as session:
            replays.seed_organisations(session, typhoon)
            session.commit()
        for _ in range(2):
            prepare_home(home, sessions, typhoon, 48.0)
        with sessions() as session:
            [scheme] = alerts.list_schemes(session)
            rules = {rule.kind: rule.params for rule in alerts.list_rules(session, scheme)}
    finally:
        store.close()
    assert (scheme.name, scheme.text) == (typhoon.title, typhoon.query)
    assert rules["spike"]["window"] == 75 and rules["keyword"]["baseline"] == 225  # an hour, three, at 48 times
    assert [(clock.name, clock.hours) for clock in load_clocks(home.home / "clocks.toml")] == [
        ("authoritative_information", 5 / 48), ("press_conference", 24 / 48)]
    assert home.jobs_file.read_text(encoding="utf-8") == LIVE_JOBS.read_text(encoding="utf-8")
    channels = load_channels(home.channels_file)
    assert set(channels) == {org.name for org in typhoon.organisations}
    assert all([c.kind for c in found] == ["file"] for found in channels.values())
    organisations = tomllib.loads(home.channels_file.read_text(encoding="utf-8"))["organisation"]
    assert [org["daily_report"] for org in organisations] == [["archive"]] * len(channels)
    with create_app(home).test_request_context("/"):  # the pages name the home's own places
        assert [i18n.label("places", code) for code in ("460502", "360102", "460000")] == ["东湖区", "东湖区", "海南省"]


def test_the_sample_is_imported_once_into_a_store_the_live_site_has_filled(home, capsys):
    """The sample comes after the first crawls (crisiswatch.live.import_sample_later), into
    a store that is not empty: imported once all the same, and not again at a restart."""
    files = [need(DATA / "weibo_covid_2020" / name) for name in SAMPLE_FILES]
    store = Store(home.database_url)
    try:
        store.upsert_posts([make_post(platform="weibo", platform_id="binhai_typhoon-w001", text="停电了",
                                      source="live-weibo")])
        import_sample(home, store)
        imported = sum(platform.stored for platform in store.counts()) - 1
        import_sample(home, store)
        assert sum(platform.stored for platform in store.counts()) - 1 == imported > 10_000
    finally:
        store.close()
    assert capsys.readouterr().out.count(f"imported {imported} real Weibo posts from {len(files)} sample files") == 1
