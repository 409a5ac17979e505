"""The Tieba spider end to end: a real Scrapy crawl of a captured thread (two pages and
their floor replies), a forum's list pages, and a block, served on loopback."""

import json
import re
import unicodedata
from datetime import datetime, timezone

import pytest
from parsel import Selector
from w3lib.html import remove_tags

from core.schema import CHINA_TZ
from tests.conftest import FIXTURES, crisiswatch, need, saved_checkpoints, stored_posts
from tests.crawlers.replay import Replay, Route

pytestmark = pytest.mark.slow  # every test here starts a process or a server

EXAMPLE = FIXTURES / "tieba" / "tiebaSpider" / "example"
TID = "3922635509"  # the thread of the captured pages
PAGES = {1: EXAMPLE / "content.html", 2: EXAMPLE / "content1.html"}
REPLIES = {1: EXAMPLE / "lzl.json", 2: EXAMPLE / "lzl1.json"}
LIST_PAGE = FIXTURES / "tieba" / "GeneralNewsExtractor" / "test_list_page" / "tieba" / "1.html"  # 贴吧热议吧


def thread_routes() -> list[Route]:
    """The thread's pages (the second re-encoded as GBK, as Tieba served for years) and
    their floor replies."""
    need(EXAMPLE)
    return [
        Route(f"/p/{TID}", PAGES[1], query={"pn": 1}),
        Route(f"/p/{TID}", PAGES[2], query={"pn": 2}, encoding="gbk", content_type="text/html; charset=gbk"),
        *(Route("/p/totalComment", path, query={"tid": TID, "pn": pn}, content_type="application/json; charset=utf-8")
          for pn, path in REPLIES.items()),
    ]


def floors(pn: int) -> list[dict]:
    """The floors of a captured page as the page states them."""
    page = Selector(text=PAGES[pn].read_text(encoding="utf-8"))
    found = []
    for floor in page.css("div.l_post[data-field]"):
        field = json.loads(floor.attrib["data-field"])
        found.append({
            "post_id": str(field["content"]["post_id"]), "number": field["content"]["post_no"],
            "author": field["author"]["user_name"],
            "text": squeeze("".join(floor.css(".d_post_content ::text").getall())),
            "time": floor.css(".tail-info::text").re_first(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"),
        })
    return found


def replies(pn: int) -> list[dict]:
    """The floor replies of a captured page that say something."""
    comments = json.loads(REPLIES[pn].read_text(encoding="utf-8"))["data"]["comment_list"]
    return [{**reply, "floor": post_id} for post_id, info in comments.items() for reply in info["comment_info"]
            if squeeze(remove_tags(reply["content"]))]  # not the smileys only, nor the empty ones


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFC", text))


def crawl(home, replay, *args, check=True):
    return crisiswatch("crawl", "--store-only", "--spider", "tieba", *args, "-s", f"TIEBA_URL={replay.url}",
                       "-s", "LOG_LEVEL=WARNING", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False",
                       home=home, check=check)




def pages_asked(replay, path: str) -> list[str]:
    return [seen.query["pn"] for seen in replay.requests_to(path)]


def test_a_thread_its_floors_and_floor_replies_then_a_second_run_from_where_it_stopped(home):
    thread = f"t{TID}"
    # the thread has 1468 pages; two are captured, so a run reads at most two
    with Replay(thread_routes()) as replay:
        result = crawl(home, replay, "-a", f"start_urls={replay.url}/p/{TID}", "-s", "TIEBA_MAX_PAGES=2")
        assert pages_asked(replay, f"/p/{TID}") == ["1", "2"]
        assert pages_asked(replay, "/p/totalComment") == ["1", "2"]
    expected = sum(len(floors(pn)) + len(replies(pn)) for pn in PAGES)
    assert f"crawl manual-tieba: ok; 4 pages, stored {expected} new posts" in result.stdout
    posts = stored_posts(home)
    assert len(posts) == expected and {p["platform"] for p in posts.values()} == {"tieba"}

    first = floors(1)[0]
    title = Selector(text=PAGES[1].read_text(encoding="utf-8")).css("h3.core_title_txt::attr(title)").get()
    head = posts[thread]
    assert first["number"] == 1 and head["kind"] == "post" and head["title"] == title and head["parent_id"] is None
    assert head["author_name"] == first["author"] and squeeze(head["text"]) == first["text"]

    for pn in PAGES:  # page 2 came as GBK: its text must read the same as the UTF-8 original
        for floor in floors(pn)[1 if pn == 1 else 0:]:
            post = posts[floor["post_id"]]
            assert post["kind"] == "comment" and post["parent_id"] == thread
            assert post["author_name"] == floor["author"] and squeeze(post["text"]) == floor["text"]
            assert post["created_at"] == datetime.fromisoformat(floor["time"]).replace(tzinfo=CHINA_TZ)
        for reply in replies(pn):
            post = posts[reply["comment_id"]]
            assert post["kind"] == "comment" and post["author_name"] == reply["username"]
            assert post["parent_id"] == (thread if reply["floor"] == first["post_id"] else reply["floor"])
            assert post["parent_id"] in posts  # every reply hangs on a floor that was stored
            assert post["created_at"] == datetime.fromtimestamp(reply["now_time"], timezone.utc)
            assert "<img" not in post["text"]
    assert saved_checkpoints(home, "manual-tieba") == {("tieba-thread", TID): "2"}

    # The next run starts at the page where this one stopped: page 1 is not asked for again,
    # and the unchanged page 2 stores nothing new.
    with Replay(thread_routes()) as replay:
        again = crawl(home, replay, "-a", f"start_urls={replay.url}/p/{TID}", "-s", "TIEBA_MAX_PAGES=1")
        assert pages_asked(replay, f"/p/{TID}") == ["2"] and pages_asked(replay, "/p/totalComment") == ["2"]
    assert f"stored 0 new posts, {len(floors(2)) + len(replies(2))} already stored" in again.stdout
    assert len(stored_posts(home)) == expected


def list_page(next_offset: int) -> bytes:
    """The captured list page with its 下一页 link pointing at ``pn=next_offset``."""
    html = LIST_PAGE.read_text(encoding="utf-8")
    return re.sub(r'pn=50(" class="next pagination-item)', rf"pn={next_offset}\1", html).encode()


def list_routes() -> list[Route]:
    """The forum's list, its next pages (the captured page again, each linking one further on)."""
    return [*(Route("/f", body=list_page(pn + 50), query={"kw": "贴吧热议", "pn": pn}) for pn in (50, 100, 150)),
            Route("/f", LIST_PAGE, query={"kw": "贴吧热议"})]


def test_a_forum_search_follows_the_threads_of_its_first_list_pages(home):
    need(LIST_PAGE)
    threads = set(Selector(text=LIST_PAGE.read_text(encoding="utf-8")).css("a.j_th_tit::attr(href)").getall())
    # only the list is captured: its threads answer 404, what matters is that each is asked for
    with Replay(list_routes()) as replay:
        result = crawl(home, replay, "-a", "keywords=贴吧热议")
        asked = {seen.path for seen in replay.seen if seen.path.startswith("/p/")}
        assert {seen.query["pn"] for seen in replay.seen if seen.path.startswith("/p/")} == {"1"}
        assert [seen.query.get("pn") for seen in replay.requests_to("/f")] == [None, "50", "100"]  # TIEBA_LIST_PAGES 3
    assert threads and asked == threads
    assert "crawl manual-tieba: ok" in result.stdout and stored_posts(home) == {}

    with Replay(list_routes()) as replay:
        crawl(home, replay, "-a", "keywords=贴吧热议", "-s", "TIEBA_LIST_PAGES=1")
        assert [seen.query.get("pn") for seen in replay.requests_to("/f")] == [None]


def test_a_block_page_is_reported_not_stored_posts(home):
    forbidden = Route(f"/p/{TID}", body=b"<html><body>Forbidden</body></html>", status=403)
    with Replay([forbidden, *thread_routes()]) as replay:
        result = crawl(home, replay, "-a", f"start_urls={replay.url}/p/{TID}")
        assert not replay.requests_to("/p/totalComment")
    assert "crawl manual-tieba: blocked" in result.stdout and "stored 0 new posts" in result.stdout
    assert stored_posts(home) == {} and saved_checkpoints(home, "manual-tieba") == {}
