"""The live site of a replay (crisiswatch.live_site): what it serves and when, read by the
real spiders, and a short live run of the demo at high speed."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import pytest
from parsel import Selector
from sqlalchemy import func, select

from core.settings import Settings
from core.store import PostRow, Store, TagRow
from crawlers.spiders.weibo import weibo_time
from crisiswatch import stages
from crisiswatch.demo import demo_scenario
from crisiswatch.live import LIVE_JOBS, playing_here, prepare_home
from crisiswatch.live_site import LiveSite, platform_id, serve
from desk import alerts, replay as replays
from desk.database import open_sessions
from desk.scenario import Post, Scenario
from desk.tables import Alert, Replay
from indexes.backends import open_index
from review_ui import create_app
from tests.conftest import REPO, crisiswatch, free_port, log_in, stored_posts

SPEED = 3600.0  # a scenario hour a second: the replay stands paused while the crawls run


@dataclass
class Live:
    home: Settings
    store: Store
    sessions: object
    scenario: Scenario
    site: LiveSite
    passwords: dict[str, str]


@pytest.fixture
def live(home):
    store = stages.open_store(home)
    sessions = open_sessions(store.engine, home.home)
    scenario = demo_scenario()
    with sessions() as session:
        created = replays.seed_organisations(session, scenario)
        session.commit()
    yield Live(home, store, sessions, scenario, LiveSite(scenario, sessions),
               {username: password for username, password, *_ in created})
    store.close()


def stand_at(live: Live, offset: timedelta, kind: str = "demo") -> Replay:
    """The home's replay paused at ``offset`` (started, or resumed, that long ago at
    ``SPEED``), what it had due played."""
    now = datetime.now(timezone.utc)
    with live.sessions() as session:
        playing = replays.current(session)
        if playing is None:
            playing = replays.start(session, live.scenario, kind, SPEED, now=now - offset / SPEED)
        else:
            reached = playing.offset_at(now)
            resumed = now - (offset - reached) / SPEED
            assert resumed >= playing.paused_at.replace(tzinfo=timezone.utc), "the crawls took too long"
            replays.resume(session, playing, now=resumed)
        replays.pause(session, playing, now=now)
        replays.play_due(session, live.store, playing, live.scenario, now=now)
        session.commit()
        session.refresh(playing)
        session.expunge(playing)
    return playing


def due(live: Live, playing: Replay) -> dict[str, tuple[Post, datetime]]:
    """The scenario's posts due now, by the id they are stored under, each with its time."""
    reached = playing.offset_at(datetime.now(timezone.utc))
    return {platform_id(live.scenario, post): (post, playing.appeared_at(post.at).replace(microsecond=0))
            for post in live.scenario.posts if post.at <= reached}


def page(live: Live, path: str) -> str | None:
    parts = urlsplit(path)
    found = live.site.page(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, "http://live")
    return found and found[1]


def test_the_site_serves_only_what_is_due_each_dated_when_it_appeared(live):
    scenario = live.scenario
    with live.sessions() as session:
        replays.start(session, scenario, "drill", SPEED)  # ready: its director has not started it
        session.commit()
    assert json.loads(page(live, "/api/container/getIndex?page=1"))["data"]["cards"] == []
    assert "<item>" not in page(live, "/news/feed.xml") and "j_th_tit" not in page(live, "/f?kw=x")
    with live.sessions() as session:
        playing = replays.current(session)
        replays.run(session, playing, now=datetime.now(timezone.utc) - timedelta(hours=5) / SPEED)
        replays.pause(session, playing)
        session.commit()
        session.refresh(playing)
        session.expunge(playing)
    expected = due(live, playing)
    assert 100 < len(expected) < len(scenario.posts)

    cards, number = [], 1
    while batch := json.loads(page(live, f"/api/container/getIndex?page={number}"))["data"]["cards"]:
        cards, number = cards + [card["mblog"] for card in batch], number + 1
    top = {key: value for key, value in expected.items() if value[0].platform == "weibo" and value[0].kind != "comment"}
    last_active = [max([expected[m["id"]][1], *(at for post, at in expected.values() if post.kind == "comment"
                                                 and post.parent == expected[m["id"]][0].id)]) for m in cards]
    assert last_active == sorted(last_active, reverse=True)
    assert {mblog["id"] for mblog in cards} == set(top)
    for mblog in cards:
        assert datetime.fromisoformat(weibo_time(mblog["created_at"])) == top[mblog["id"]][1]
    commented = next(post for post, _ in expected.values() if post.kind == "comment" and post.platform == "weibo")
    comments = json.loads(page(live, f"/comments/hotflow?id={scenario.stored_id(commented.parent)}"))["data"]["data"]
    assert {c["id"] for c in comments} == {key for key, (post, _) in expected.items()
                                            if post.parent == commented.parent and post.kind == "comment"}

    feed = Selector(text=page(live, "/news/feed.xml"), type="xml")
    news = {key: at for key, (post, at) in expected.items() if post.platform == "news"}
    assert dict(zip(feed.xpath("//guid/text()").getall(), map(parsedate_to_datetime, feed.xpath("//pubDate/text()").getall()))) == news
    threads = Selector(text=page(live, "/f?kw=滨海")).css("a.j_th_tit::attr(href)").getall()
    assert {f"t{href.split('/')[-1]}" for href in threads} == {
        key for key, (post, _) in expected.items() if post.platform == "tieba" and post.parent is None}
    articles = Selector(text=page(live, "/weixin?type=2&query=滨海")).css("ul.news-list > li")
    assert {f"{scenario.name}:{a.css('h3 a::attr(href)').get().split('/')[-1]}:1": int(a.css("div.s-p::attr(t)").get())
            for a in articles} == {key: int(at.timestamp()) for key, (post, at) in expected.items()
                                   if post.platform == "wechat"}

    later = [post for post in scenario.posts if platform_id(scenario, post) not in expected]
    for platform, path in (("weibo", "/comments/hotflow?id={}"), ("news", "/news/{}.html"), ("wechat", "/s/{}")):
        post = next(post for post in later if post.platform == platform)
        assert page(live, path.format(scenario.stored_id(post.id) if platform == "weibo" else post.id)) is None
    thread = next(post for post in later if post.platform == "tieba" and post.parent is None)
    assert page(live, f"/p/{platform_id(scenario, thread)[1:]}") is None


def crawl_everything(live: Live, url: str, monkeypatch) -> list[str]:
    monkeypatch.setenv("CRISISWATCH_DEMO_SITE", url)
    return [crisiswatch("crawl", job, "--store-only", home=live.home).stdout for job in
            ("live-news", "live-releases", "live-weibo", "live-wechat", "live-tieba")]


def assert_stored(live: Live, expected: dict, releases: dict) -> None:
    """The store holds the posts due and the releases published, each once, at its time
    (Tieba's floors to the minute), a reply under its parent."""
    stored = stored_posts(live.home)
    assert set(stored) == set(expected) | set(releases)
    for key, (post, at) in expected.items():
        row = stored[key]
        assert (row["platform"], row["created_at"]) == (post.platform, at.replace(second=0) if post.platform == "tieba"
                                                        else at), key
        assert row["parent_id"] == (post.parent and platform_id(live.scenario, live.site.by_id[post.parent])), key
    for key, (title, at) in releases.items():
        assert (stored[key]["platform"], stored[key]["kind"], stored[key]["title"], stored[key]["created_at"]) == (
            "gov", "release", title, at)


@pytest.mark.slow
def test_the_live_jobs_crawl_what_is_due_at_its_time_and_nothing_twice(live, monkeypatch):
    """The shipped live jobs, real Scrapy crawls over loopback: three hours into the
    scenario, then five (its first release published through the workflow, its first
    WeChat articles out), then five again; then the live home's scheme opens alerts on
    those posts, which the analyst sees."""
    live.home.jobs_file.write_text(LIVE_JOBS.read_text(encoding="utf-8"), encoding="utf-8")
    server, url = serve(live.site)
    try:
        playing = stand_at(live, timedelta(hours=3))
        crawl_everything(live, url, monkeypatch)
        assert_stored(live, due(live, playing), {})

        playing = stand_at(live, timedelta(hours=5))
        expected = due(live, playing)
        assert {post.platform for post, _ in expected.values()} == {"weibo", "tieba", "news", "wechat"}
        lines = crawl_everything(live, url, monkeypatch)
        published = {f"{live.scenario.name}-release-{r['id']}": (r["title"], r["at"])
                     for r in live.site.moment().releases}
        first = live.scenario.releases[0]
        assert [title for title, _ in published.values()] == [first.title]
        assert_stored(live, expected, published)
        assert all("stored 0 new posts" not in line for line in lines)

        again = crawl_everything(live, url, monkeypatch)
        assert all("stored 0 new posts" in line for line in again), again
        assert_stored(live, expected, published)
    finally:
        server.shutdown()

    # The live home's scheme (the city's) fires on what was crawled, and its analyst sees the alerts.
    prepare_home(live.home, live.sessions, live.scenario, SPEED)
    stages.tag(live.home, live.store, quiet=True)
    stages.index(live.home, live.store, quiet=True)
    latest = max(at for _, at in expected.values())
    with live.sessions() as session:
        alerts.check(session, live.store, open_index(live.home), latest + timedelta(seconds=1))
        session.commit()
        found = {(rule.kind, alert.key): alert.id for alert, rule in alerts.list_alerts(session)}
    assert {("keyword", "全城停电"), ("keyword", "吸氧机")} <= set(found), found
    client = create_app(live.home).test_client()
    assert log_in(client, "city_analyst", live.passwords["city_analyst"]).status_code == 303
    listed = client.get("/alerts/").get_data(as_text=True)
    assert live.scenario.title in listed and "吸氧机" in listed
    assert "吸氧机" in client.get(f"/alerts/{found['keyword', '吸氧机']}").get_data(as_text=True)


@pytest.mark.slow
def test_a_short_live_demo_reaches_posts_tags_the_index_and_an_alert(home_with_models, tmp_path):
    """``crisiswatch demo --speed 600`` (its day in 144 s) on a home with models: the first
    crawls bring the scenario's posts, tagged and indexed, its rules open an alert, and the
    player publishes the first release; Ctrl-C pauses the replay."""
    home = home_with_models
    env = {**os.environ, "CRISISWATCH_HOME": str(home.home), "CRISISWATCH_DATA": str(tmp_path / "no-data"),
           "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen([sys.executable, "-m", "crisiswatch", "demo", "--speed", "600", "--no-sample",
                             "--port", str(free_port())], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    threading.Thread(target=lambda: [output.append(line) for line in demo.stdout], daemon=True).start()
    reached = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and demo.poll() is None and not all(reached.values() or [False]):
            time.sleep(3)
            store = Store(home.database_url)
            try:
                with store.engine.connect() as conn:
                    reached = {
                        "posts": conn.execute(select(func.count()).select_from(PostRow)).scalar() > 0,
                        "tags": conn.execute(select(func.count()).select_from(TagRow)).scalar() > 0,
                        "index": conn.execute(select(func.count()).select_from(PostRow)
                                              .where(PostRow.indexed_rev == PostRow.rev)).scalar() > 0,
                        "alert": conn.execute(select(func.count()).select_from(Alert)).scalar() > 0,
                    }
            finally:
                store.close()
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    said = "".join(output)
    assert reached and all(reached.values()), (reached, said[-3000:])
    assert demo.returncode == 0 and "demo stopped" in said, said[-3000:]
    assert re.search(r"published 关于台风“海鸥”造成滨海市部分区域停电的情况通报", said), said[-3000:]
    store = Store(home.database_url)
    try:
        with open_sessions(store.engine, home.home)() as session:
            assert replays.current(session).state == "paused"
    finally:
        store.close()


def test_a_home_plays_in_one_process_at_a_time(home):
    """A second demo of a home (on another port) is refused while the first plays: it would
    crawl and train twice, and stopping it paused the first one's clock."""
    with playing_here(home):
        second = crisiswatch("demo", "--no-sample", "--port", str(free_port()), home=home, check=False, timeout=60)
    assert second.returncode == 1 and "plays its replay in another process already" in second.stderr
    assert not (home.home / "jobs.toml").exists()  # refused before anything was prepared


def test_hostile_scenario_text_stays_text_on_every_page(live):
    """A scenario's words are data wherever the site puts them, a WeChat article's script included."""
    hostile = '</script><script>alert("x")</script><b>&amp; 🌀'
    posts = tuple(replace(post, author=hostile, title=hostile, text=hostile + "停电" * 10_000)
                  for post in live.scenario.posts)
    live.site = LiveSite(replace(live.scenario, posts=posts), live.sessions)
    stand_at(live, timedelta(hours=5))
    article = next(post for post in posts if post.platform == "wechat" and post.at <= timedelta(hours=5))
    for path in (f"/s/{article.id}", "/weixin", "/f", "/news/feed.xml"):
        shown = Selector(text=page(live, path), type="xml" if path.endswith(".xml") else "html")
        assert not shown.css("b") and len(shown.css("script")) <= 1, path
    shown = page(live, f"/s/{article.id}")
    assert json.loads(re.search(r"var user_name = (.*);", shown).group(1)) == hostile
    assert Selector(text=shown).css("#js_name::text").get() == hostile
    thread = next(post for post in posts if post.platform == "tieba" and post.parent is None
                  and post.at <= timedelta(hours=5))
    shown = Selector(text=page(live, f"/p/{platform_id(live.site.scenario, thread)[1:]}"))
    assert shown.css("title::text").get() == f"{hostile}_滨海吧_百度贴吧"  # escaped once, as the spider reads it
    assert shown.css(".core_title_txt::attr(title)").get() == shown.css(".core_title_txt::text").get() == hostile


def test_a_page_number_that_is_no_number_is_answered_400_without_a_traceback(live, capfd):
    server, url = serve(live.site)
    try:
        for number in ("abc", "1.5", "9" * 5000):
            with pytest.raises(HTTPError) as refused:
                urlopen(f"{url}/api/container/getIndex?page={number}")
            assert refused.value.code == 400, number
        assert json.loads(urlopen(f"{url}/api/container/getIndex?page=1").read())["data"]["cards"] == []
    finally:
        server.shutdown()
    assert "Traceback" not in capfd.readouterr().err
