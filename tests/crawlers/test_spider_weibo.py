"""The Weibo spider end to end: real Scrapy crawls over HTTP against a replay of captured
m.weibo.cn API responses and s.weibo.com / weibo.com pages."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from parsel import Selector

from crawlers.spiders.weibo import html_text
from review_ui import create_app
from tests.conftest import FIXTURES, REPO, crisiswatch, logged_in_client, need, saved_checkpoints, stored_posts
from tests.crawlers.replay import Replay, Route

pytestmark = pytest.mark.slow  # every test here starts a process or a server

WEIBO = FIXTURES / "weibo"
API = WEIBO / "weiboAPI" / "extracted"
PAGES = WEIBO / "weibospider" / "tests"
TIMELINE = API / "getIndex_containerid-1076031669879400_timeline.json"
USER_INFO = API / "getIndex_type-uid_userInfo.json"
LONG_TEXT = API / "statuses_extend_4383487819465288.json"
REPOST = API / "statuses_show_HyZVegYAP.json"
HOTFLOW = API / "comments_hotflow_4383183661430868.json"
SEARCH = PAGES / "search.html"
UID = "1669879400"
COMMENTED = "4383183661430868"  # the timeline post whose comments were captured
JSON = "application/json; charset=utf-8"
CHINA = timezone(timedelta(hours=8))


@pytest.fixture(autouse=True)
def fixtures():
    need(FIXTURES / "weibo")


def crawl(home, replay, *args, check=True):
    return crisiswatch("crawl", "--spider", "weibo", *args, "-s", f"WEIBO_API_URL={replay.url}",
                       "-s", f"WEIBO_SEARCH_URL={replay.url}", "-s", "LOG_LEVEL=WARNING",
                       "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False", home=home, check=check)




def load(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def timeline_posts(keywords=()) -> dict:
    """id -> (kind, parent id, raw HTML text) of the timeline capture's posts, their
    originals and the captured comments (with their replies), as the spider should store
    them: those that mention a keyword and the replies to those, or all without keywords."""
    found = {}
    for card in load(TIMELINE)["data"]["cards"]:
        mblog, original = card["mblog"], card["mblog"].get("retweeted_status")
        found[mblog["id"]] = ("repost" if original else "post", original and original["id"], mblog["text"])
        if original:
            found[original["id"]] = ("post", None, original["text"])
    for comment in load(HOTFLOW)["data"]["data"]:
        found[comment["id"]] = ("comment", COMMENTED, comment["text"])
        for reply in comment.get("comments") or []:
            found[reply["id"]] = ("comment", comment["id"], reply["text"])
    kept = {}
    for key, (kind, parent, text) in found.items():  # parents come before their replies
        if not keywords or parent in kept or any(word in text for word in keywords):
            kept[key] = (kind, parent, text)
    return kept


def latest(month: int, day: int) -> datetime:
    """The API's "MM-DD" (no year): the latest such day, China time."""
    now = datetime.now(CHINA)
    year = now.year if (month, day) <= (now.month, now.day) else now.year - 1
    return datetime(year, month, day, tzinfo=CHINA)


def pages_asked(replay, **query) -> list[str]:
    return [seen.query.get("page") for seen in replay.requests_to("/api/container/getIndex")
            if all(seen.query.get(k) == v for k, v in query.items())]


def test_keyword_search_through_the_api_end_to_end(home):
    keywords = ("吃", "电影")
    routes = [
        # No search response was captured: a search answers with the same getIndex cards as
        # a timeline, so the timeline capture stands in for every search page.
        Route("/api/container/getIndex", TIMELINE, content_type=JSON),
        Route("/comments/hotflow", HOTFLOW, query={"id": COMMENTED}, content_type=JSON),
    ]
    expected = timeline_posts(keywords)
    assert {kind for kind, _, _ in expected.values()} == {"post", "repost", "comment"}
    with Replay(routes) as replay:
        result = crawl(home, replay, "-a", "keywords=" + ",".join(keywords), "-s", "WEIBO_MAX_PAGES=3")
        assert "crawl manual-weibo: ok" in result.stdout and f"stored {len(expected)} new posts" in result.stdout

        posts = stored_posts(home)
        assert {pid: (p["kind"], p["parent_id"]) for pid, p in posts.items()} == \
               {pid: (kind, parent) for pid, (kind, parent, _) in expected.items()}
        assert all(p["platform"] == "weibo" and "<" not in p["text"] and "&quot;" not in p["text"] for p in posts.values())

        cards = {card["mblog"]["id"]: card["mblog"] for card in load(TIMELINE)["data"]["cards"]}
        first = posts[COMMENTED]
        assert first["text"].startswith("搬完这块砖，就可以吃好吃的了[偷笑][偷笑]")  # emoticons kept as their names
        assert (first["author_id"], first["author_name"], first["author_verified"]) == (UID, "Dear-迪丽热巴", True)
        assert first["url"] == f"https://m.weibo.cn/detail/{COMMENTED}"
        month, day = map(int, cards[COMMENTED]["created_at"].split("-"))
        assert first["created_at"] == latest(month, day).astimezone(timezone.utc)
        assert (first["reposts_count"], first["comments_count"], first["likes_count"]) == tuple(
            cards[COMMENTED][name] for name in ("reposts_count", "comments_count", "attitudes_count"))

        repost = next(p for p in posts.values() if p["kind"] == "repost")
        original = posts[repost["parent_id"]]
        assert original["author_name"] == cards[repost["platform_id"]]["retweeted_status"]["user"]["screen_name"]
        assert "#首部法医秦明大电影#" in original["text"] and "\n" in original["text"]  # <br /> became a new line

        comment = load(HOTFLOW)["data"]["data"][0]
        stored_comment = posts[comment["id"]]
        assert stored_comment["created_at"] == datetime.strptime(comment["created_at"], "%a %b %d %H:%M:%S %z %Y")
        assert stored_comment["author_name"] == comment["user"]["screen_name"]
        assert stored_comment["likes_count"] == comment["like_count"]

        for word in keywords:  # each keyword searched, its pages followed up to the limit
            assert pages_asked(replay, containerid=f"100103type=1&q={word}") == ["1", "2", "3"]
        # both keywords' cards show the same posts: their comment pages, asked once, are awaited by both
        assert set(saved_checkpoints(home, "manual-weibo")) == {("weibo-api", word) for word in keywords}
        comment_pages = replay.requests_to("/comments/hotflow")
        assert [seen.query.get("max_id") for seen in comment_pages if seen.query["id"] == COMMENTED] == \
               [None, str(load(HOTFLOW)["data"]["max_id"])]

        again = crawl(home, replay, "-a", "keywords=" + ",".join(keywords), "-s", "WEIBO_MAX_PAGES=3")
        assert "stored 0 new posts" in again.stdout
        assert len(stored_posts(home)) == len(expected)


def test_user_timeline_checkpoint_makes_the_next_run_incremental(home):
    # the timeline is the profile's "weibo" tab, whose container the spider asks for directly
    weibo_tab = next(t for t in load(USER_INFO)["data"]["tabsInfo"]["tabs"] if t["tabKey"] == "weibo")
    assert weibo_tab["containerid"] == "107603" + UID
    routes = [
        Route("/api/container/getIndex", TIMELINE, query={"type": "uid", "value": UID, "containerid": "107603" + UID},
              content_type=JSON),
        Route("/comments/hotflow", HOTFLOW, query={"id": COMMENTED}, content_type=JSON),
    ]
    expected = timeline_posts()
    with Replay(routes) as replay:
        result = crawl(home, replay, "-a", f"users={UID}", "-s", "WEIBO_MAX_PAGES=3")
        assert f"stored {len(expected)} new posts" in result.stdout
        assert pages_asked(replay, containerid=weibo_tab["containerid"]) == ["1", "2", "3"]
        shown = {card["mblog"]["id"]: card["mblog"]["reposts_count"] for card in load(TIMELINE)["data"]["cards"]}
        rounded = next(mid for mid, reposts in shown.items() if reposts == "100万+")  # the API's rounded counts
        assert stored_posts(home)[rounded]["reposts_count"] == 1_000_000

        newest = max(latest(*map(int, card["mblog"]["created_at"].split("-"))) for card in load(TIMELINE)["data"]["cards"])
        saved = saved_checkpoints(home, "manual-weibo")
        assert list(saved) == [("weibo-api", f"user:{UID}")]
        assert datetime.fromisoformat(saved[("weibo-api", f"user:{UID}")]) == newest

        replay.seen.clear()
        again = crawl(home, replay, "-a", f"users={UID}", "-s", "WEIBO_MAX_PAGES=3")
        assert "stored 0 new posts" in again.stdout
        assert pages_asked(replay, containerid=weibo_tab["containerid"]) == ["1"]  # nothing newer on page 1: stop


def test_a_status_url_brings_its_long_original(home):
    show = load(REPOST)["data"]
    original_id = show["retweeted_status"]["id"]
    assert show["retweeted_status"]["isLongText"]
    routes = [
        Route("/statuses/show", REPOST, content_type=JSON),
        # The only statuses/extend capture is of another long post; the answer's form is
        # the same, so it stands in for this one.
        Route("/statuses/extend", LONG_TEXT, query={"id": original_id}, content_type=JSON),
    ]
    with Replay(routes) as replay:
        result = crawl(home, replay, "-a", f"start_urls={replay.url}/statuses/show?id={show['bid']}")
        assert "stored 2 new posts" in result.stdout
        assert replay.requests_to("/comments/hotflow") == []  # neither has comments

    posts = stored_posts(home)
    repost, original = posts[show["id"]], posts[original_id]
    assert (repost["kind"], repost["parent_id"], repost["text"]) == ("repost", original_id, "转发微博")
    assert repost["created_at"] == datetime(2019, 6, 15, 3, 44, 46, tzinfo=timezone.utc)  # Sat Jun 15 11:44:46 +0800 2019
    assert repost["author_name"] == show["user"]["screen_name"]
    long_text = load(LONG_TEXT)["data"]["longTextContent"]
    assert original["kind"] == "post" and original["parent_id"] is None
    assert "全文" not in original["text"] and "\nNature\n" in original["text"] and "<br" not in original["text"]
    assert len(original["text"]) > len(show["retweeted_status"]["text"]) / 2 and original["text"][:20] == long_text[:20]


def test_a_crawl_killed_while_a_long_text_is_on_its_way_loses_nothing(home, tmp_path):
    """A key's checkpoint waits for the long texts (and comment pages) its card pages asked
    for: killed while one is on its way, the crawl has saved no checkpoint, and the next
    run reads that post; a long text that fails for good is kept with its card's start."""
    cards = load(TIMELINE)
    long_post = cards["data"]["cards"][1]["mblog"]
    long_post["isLongText"] = True
    page = tmp_path / "cards.json"
    page.write_text(json.dumps(cards, ensure_ascii=False), encoding="utf-8")
    timeline = {"type": "uid", "value": UID, "containerid": "107603" + UID}
    extend = Route("/statuses/extend", LONG_TEXT, query={"id": long_post["id"]}, content_type=JSON, delay=30)
    routes = [Route("/api/container/getIndex", page, query=timeline, content_type=JSON), extend]
    args = ["crawl", "--spider", "weibo", "-a", f"users={UID}", "-s", "WEIBO_MAX_PAGES=1", "-s", "LOG_LEVEL=WARNING",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False"]
    with Replay(routes) as replay:
        urls = ["-s", f"WEIBO_API_URL={replay.url}", "-s", f"WEIBO_SEARCH_URL={replay.url}"]
        env = {**os.environ, "CRISISWATCH_HOME": str(home.home)}
        crawling = subprocess.Popen([sys.executable, "-m", "crisiswatch", *args, *urls], cwd=REPO, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while not replay.requests_to("/statuses/extend"):
            assert crawling.poll() is None and time.monotonic() < deadline, "the long text was never asked for"
            time.sleep(0.1)
        time.sleep(3)  # time enough to store the other posts and the checkpoint, had it not been held
        assert crawling.poll() is None, "the crawl ended before the long text was answered"
        os.killpg(crawling.pid, signal.SIGKILL)
        crawling.wait()
        assert long_post["id"] not in stored_posts(home) and saved_checkpoints(home, "manual-weibo") == {}

        extend.delay = 0
        crawl(home, replay, "-a", f"users={UID}", "-s", "WEIBO_MAX_PAGES=1")
        stored = stored_posts(home)[long_post["id"]]
        assert stored["text"][:20] == load(LONG_TEXT)["data"]["longTextContent"][:20]
        assert list(saved_checkpoints(home, "manual-weibo")) == [("weibo-api", f"user:{UID}")]


@pytest.mark.parametrize("status", [404, 503])
def test_a_long_text_that_is_gone_is_kept_as_its_card_shows_it(home, tmp_path, status):
    """404: the long text is gone, so the post is kept with the start its card showed and
    the checkpoint is saved. 503 (after the retries; a block page alike): the checkpoint
    is held, so that the next run asks again."""
    cards = load(TIMELINE)
    long_post = cards["data"]["cards"][1]["mblog"]
    long_post["isLongText"] = True
    page = tmp_path / "cards.json"
    page.write_text(json.dumps(cards, ensure_ascii=False), encoding="utf-8")
    routes = [Route("/api/container/getIndex", page, content_type=JSON),
              Route("/statuses/extend", query={"id": long_post["id"]}, body=b"no", status=status)]
    with Replay(routes) as replay:
        result = crawl(home, replay, "-a", f"users={UID}", "-s", "WEIBO_MAX_PAGES=1", "-s", "RETRY_TIMES=1",
                       check=False)
    assert result.returncode == (0 if status == 404 else 1)  # a request given up is a crawl with errors
    saved = saved_checkpoints(home, "manual-weibo")
    if status == 404:
        assert stored_posts(home)[long_post["id"]]["text"].startswith(html_text(long_post["text"])[:10])
        assert list(saved) == [("weibo-api", f"user:{UID}")]
    else:
        assert long_post["id"] not in stored_posts(home) and saved == {}


def test_html_search_splits_full_windows_and_resumes_from_its_checkpoint(home):
    page = SEARCH.read_text(encoding="utf-8")
    listed = max(map(int, re.findall(r"第(\d+)页", page)))
    keyword = "陈羽凡"
    results = Selector(text=page).css("[action-type=feed_list_item][mid]")
    expected = {item.attrib["mid"]: item for item in results
                if keyword in "".join(item.css("[node-type=feed_list_content] ::text").getall())}
    assert expected
    args = ["-a", "mode=html", "-a", f"keywords={keyword}", "-a", "since=2017-05-11-8", "-a", "until=2017-05-11-10",
            "-s", "WEIBO_SEARCH_WINDOW_HOURS=2", "-s", f"WEIBO_SEARCH_MAX_PAGES={listed}"]
    with Replay([Route("/weibo", SEARCH)]) as replay:
        result = crawl(home, replay, *args)
        assert f"stored {len(expected)} new posts" in result.stdout
        # The capture lists as many pages as the cap: the 2-hour window is split into two
        # hours, each read to its last page, the earlier hour first.
        asked = [(seen.query["timescope"], int(seen.query["page"])) for seen in replay.requests_to("/weibo")]
        assert asked == [("custom:2017-05-11-8:2017-05-11-10", 1)] + \
               [("custom:2017-05-11-8:2017-05-11-9", n) for n in range(1, listed + 1)] + \
               [("custom:2017-05-11-9:2017-05-11-10", n) for n in range(1, listed + 1)]
        assert all(seen.query["q"] == keyword for seen in replay.requests_to("/weibo"))
        assert saved_checkpoints(home, "manual-weibo") == {("weibo-search", keyword): "2017-05-11-10"}

        posts = stored_posts(home)
        assert set(posts) == set(expected)
        first_mid, first = next(iter(expected.items()))
        post = posts[first_mid]
        date = first.css("[node-type=feed_list_item_date]")
        assert post["created_at"] == datetime.fromtimestamp(int(date.attrib["date"]) / 1000, timezone.utc)
        assert post["author_name"] == first.css("a[nick-name]").attrib["nick-name"] and post["author_id"] == "2878821573"
        assert post["text"].startswith("陈羽凡公司发文\n一是为陈羽凡的行为道歉") and post["kind"] == "post"
        assert all("展开全文" not in p["text"] and "<" not in p["text"] for p in posts.values())

        replay.seen.clear()
        again = crawl(home, replay, *args)
        assert "stored 0 new posts" in again.stdout and replay.requests_to("/weibo") == []


def test_block_pages_are_reported_not_stored_posts(home):
    gbk = "text/html; charset=gbk"  # these two are GBK bytes that declare utf-8 in a meta tag
    pages = {"deny": (PAGES / "accessdeny.html", "text/html; charset=utf-8"),
             "busy": (PAGES / "忙碌页面.html", gbk), "frozen": (PAGES / "完全被封页面.html", gbk)}
    routes = [Route("/api/container/getIndex", path, query={"containerid": name}, content_type=kind)
              for name, (path, kind) in pages.items()]
    with Replay(routes) as replay:
        urls = [f"{replay.url}/api/container/getIndex?containerid={name}" for name in pages]
        result = crawl(home, replay, "-a", "start_urls=" + ",".join(urls))
        assert len(replay.seen) == len(pages)
    assert "crawl manual-weibo: blocked" in result.stdout and "stored 0 new posts" in result.stdout
    assert stored_posts(home) == {} and saved_checkpoints(home, "manual-weibo") == {}


def test_a_job_over_the_replay_is_stored_tagged_indexed_and_found_in_the_ui(home):
    routes = [Route("/api/container/getIndex", TIMELINE, content_type=JSON),
              Route("/comments/hotflow", HOTFLOW, query={"id": COMMENTED}, content_type=JSON)]
    with Replay(routes) as replay:
        (home.home / "jobs.toml").write_text(
            '[[job]]\nname = "weibo-outage"\nspider = "weibo"\nkeywords = ["电影"]\nschedule = "*/15 * * * *"\n'
            f'limits = {{ pages = 20 }}\nsettings = {{ WEIBO_API_URL = "{replay.url}", WEIBO_MAX_PAGES = 1, '
            'AUTOTHROTTLE_ENABLED = false, ROBOTSTXT_OBEY = false, LOG_LEVEL = "WARNING" }\n', encoding="utf-8")
        result = crisiswatch("crawl", "weibo-outage", home=home)
    posts = stored_posts(home)
    assert "crawl weibo-outage: ok" in result.stdout and posts
    assert f"tagged {len(posts)} posts" in result.stdout and f"indexed {len(posts)} posts" in result.stdout
    assert '"name": "weibo-outage"' in crisiswatch("status", "--json", home=home).stdout

    client = logged_in_client(create_app(home))
    found = client.get("/api/search", query_string={"q": "电影", "platform": "weibo", "per_page": 50}).get_json()
    expected = {p["id"] for p in posts.values() if "电影" in p["text"]}
    assert expected and {hit["id"] for hit in found["hits"]} == expected
    page = client.get("/", query_string={"q": "电影"}).get_data(as_text=True)  # the search page
    assert all(f"/posts/{post_id}" in page for post_id in expected)


@pytest.mark.parametrize("answer, status, health, reason", [
    ({"ok": -100, "url": "https://passport.weibo.cn/signin/welcome?entry=mweibo"}, 200, "cookie expired", "wants a login"),
    ({"ok": -100, "url": "https://passport.weibo.com/captcha?scene=limit&from=m"}, 200, "blocked", "rate limited"),
    ({"ok": -100, "url": "https://m.weibo.cn/api/geetest?testType=1&backUrl=/"}, 200, "blocked", "rate limited"),
    ({"ok": 0, "msg": "这里还没有内容"}, 432, "blocked", "HTTP 432"),
])
def test_the_apis_refusals_are_told_apart(home, answer, status, health, reason):
    route = Route("/api/container/getIndex", body=json.dumps(answer).encode(), content_type=JSON, status=status)
    with Replay([route]) as replay:
        result = crawl(home, replay, "-a", f"start_urls={replay.url}/api/container/getIndex?containerid=1076031669879400")
    assert f"crawl manual-weibo: {health}" in result.stdout and reason in result.stdout
    assert stored_posts(home) == {}
