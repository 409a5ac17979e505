"""The WeChat spider end to end: a real Scrapy crawl of captured Sogou search and
mp.weixin.qq.com article pages served on loopback."""

import html
import re
import unicodedata
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from parsel import Selector

from tests.conftest import FIXTURES, crisiswatch, need, saved_checkpoints, stored_posts
from tests.crawlers.replay import Replay, Route

pytestmark = pytest.mark.slow  # every test here starts a process or a server

FILES = FIXTURES / "wechat" / "WechatSogou" / "test" / "file"
SEARCH_PAGE = FILES / "search-gaokao-article.html"  # results for 高考
ARTICLES = [FILES / f"article_detail_{name}.html" for name in ("backgroud-image", "iframe", "mpvoice", "qqmusic")] + [
    FIXTURES / "wechat" / "GeneralNewsExtractor" / "tests" / "wechat" / f"{n}.html" for n in (1, 2)]
EXPIRED = FILES / "article_detail_expired.html"
CAPTCHA = FILES / "search-gaokao-gzh-error.html"
# 高考 finds the captured search page; the others are what its articles are about (or not)
KEYWORDS = ["高考", "限电", "供电", "停电"]


def results() -> list[tuple[str, int]]:
    """(article link signature, time) of each result on the captured search page."""
    page = Selector(text=SEARCH_PAGE.read_text(encoding="utf-8"))
    found = []
    for item in page.css("ul.news-list > li"):
        signature = parse_qs(urlsplit(item.css("h3 a::attr(href)").get()).query)["signature"][0]
        found.append((signature, int(re.search(r"timeConvert\('(\d+)'\)", item.get()).group(1))))
    return found


def js_var(text: str, name: str) -> str:
    expression = re.search(rf"var\s+{name}\s*=\s*([^;\n]*)", text).group(1)
    return html.unescape(next(v for v in re.findall(r'"([^"]*)"', expression) if v.strip()))


def body_text(page: Selector) -> str:
    """The article body's text, blanks and invisible characters removed, for comparison."""
    nodes = page.xpath('//*[@id="js_content"]//text()[not(ancestor::script) and not(ancestor::style)]').getall()
    return squeeze("".join(nodes))


def squeeze(text: str) -> str:
    return re.sub(r"[\s\u200b\ufeff]", "", unicodedata.normalize("NFC", text))


def article_routes() -> list[Route]:
    """Each result's link (told apart by its signature) answered with one captured article,
    or with the expired-link page once the articles run out."""
    return [Route("/s", ARTICLES[i] if i < len(ARTICLES) else EXPIRED, query={"signature": signature})
            for i, (signature, _) in enumerate(results())]


def crawl(home, replay, *args, keywords=KEYWORDS, check=True):
    return crisiswatch("crawl", "--store-only", "--spider", "wechat", "-a", "keywords=" + ",".join(keywords), *args,
                       "-s", f"SOGOU_WEIXIN_URL={replay.url}", "-s", f"WECHAT_ARTICLE_URL={replay.url}",
                       "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False", home=home, check=check)




@pytest.fixture
def search_routes():
    need(FIXTURES / "wechat")
    return [Route("/weixin", SEARCH_PAGE, query={"type": "2", "query": "高考"}), *article_routes()]


def test_search_pages_lead_to_articles_and_a_second_run_stores_nothing_new(home, search_routes):
    pages = {path: Selector(text=path.read_text(encoding="utf-8")) for path in ARTICLES}
    on_topic = [path for path, page in pages.items()
                if any(k in body_text(page) or k in js_var(page.get(), "msg_title") for k in KEYWORDS)]
    assert 0 < len(on_topic) < len(ARTICLES)  # the keyword filter has something to keep and to drop

    with Replay(search_routes) as replay:
        # INFO: the closing stats, which count expired links, are logged at that level
        result = crawl(home, replay, "-s", "LOG_LEVEL=INFO")
        searched = [seen.query for seen in replay.requests_to("/weixin")]
        articles = replay.requests_to("/s")

    assert "crawl manual-wechat: ok" in result.stdout and f"stored {len(on_topic)} new posts" in result.stdout
    # every search term searched; 高考 found results, so its next page was read (and
    # gave the same results, which are not asked for again)
    assert {q["query"] for q in searched} == set(KEYWORDS)
    assert sorted(q["page"] for q in searched if q["query"] == "高考") == ["1", "2"]
    assert len(articles) == len(results())
    expired = len(results()) - len(ARTICLES)
    assert f"'crisiswatch/expired': {expired}" in result.stderr
    assert f"'crisiswatch/off_topic': {len(ARTICLES) - len(on_topic)}" in result.stderr

    posts = {p["title"]: p for p in list(stored_posts(home).values())}
    assert len(posts) == len(on_topic)
    for path in on_topic:
        page = pages[path].get()
        post = posts[js_var(page, "msg_title")]
        assert post["platform"] == "wechat" and post["kind"] == "article" and post["source"] == "manual-wechat"
        assert post["platform_id"] == ":".join(js_var(page, name) for name in ("biz", "mid", "idx"))
        assert post["author_name"] == js_var(page, "nickname")
        assert post["created_at"] == datetime.fromtimestamp(int(js_var(page, "ct")), timezone.utc)
        assert squeeze(post["text"]) == body_text(pages[path])  # all the body's text, and only it
        assert "<" not in post["text"] and "function(" not in post["text"]
        assert post["capture_sha"]
    # the checkpoint of 高考 is its newest result; the other terms' searches are not
    # captured (404 here), so they have none
    assert saved_checkpoints(home, "manual-wechat") == {("wechat-search", "高考"): str(max(t for _, t in results()))}

    # The same article under its permanent link (rather than Sogou's temporary one) is the
    # same post; and the search's results are all old now, so none is asked for again.
    kept = pages[on_topic[0]].get()
    biz, mid, idx = (js_var(kept, name) for name in ("biz", "mid", "idx"))
    search_routes.append(Route("/s", on_topic[0], query={"__biz": biz, "mid": mid, "idx": idx}))
    with Replay(search_routes) as replay:
        again = crawl(home, replay, "-a", f"start_urls={replay.url}/s?__biz={biz}&mid={mid}&idx={idx}",
                      "-s", "LOG_LEVEL=WARNING")
        assert [q["page"] for q in (s.query for s in replay.requests_to("/weixin")) if q["query"] == "高考"] == ["1"]
        assert [s.query for s in replay.requests_to("/s")] == [{"__biz": biz, "mid": mid, "idx": idx}]
    assert "crawl manual-wechat: ok" in again.stdout
    assert "stored 0 new posts, 1 already stored" in again.stdout
    assert len(list(stored_posts(home).values())) == len(on_topic)


def test_the_page_limit_stops_paging(home, search_routes):
    with Replay(search_routes) as replay:
        crawl(home, replay, "-s", "WECHAT_MAX_PAGES=1", "-s", "LOG_LEVEL=WARNING", keywords=["高考"])
        assert [s.query["page"] for s in replay.requests_to("/weixin")] == ["1"]


def test_a_captcha_page_is_a_block_not_a_post(home):
    need(FIXTURES / "wechat")
    with Replay([Route("/weixin", CAPTCHA, query={"type": "2"})]) as replay:
        result = crawl(home, replay, "-s", "LOG_LEVEL=WARNING", keywords=["停电"])
        assert len(replay.requests_to("/weixin")) == 1 and not replay.requests_to("/s")
    assert "crawl manual-wechat: blocked" in result.stdout and "stored 0 new posts" in result.stdout
    assert "sogou: too many requests" in result.stdout
    assert stored_posts(home) == {} and saved_checkpoints(home, "manual-wechat") == {}
