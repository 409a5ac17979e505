"""What every crawl shares, through real crawls: pages in any Chinese encoding become
correct text, the cookie and proxy pool is used and never logged, expired cookies are
retired and reported, and each post keeps the raw response it was read from."""

import pytest

from core.store import Store
from tests.conftest import FIXTURES, crisiswatch, need, stored_posts
from tests.crawlers.replay import Replay, Route

pytestmark = pytest.mark.slow  # every test here starts a process or a server

PEOPLE = "news/GeneralNewsExtractor/tests/people/1.html"  # declares GB2312 in a meta tag
XINHUA = "news/GeneralNewsExtractor/tests/xinhuanet/1.html"
FEED = "rss/Rodel.Reader/src/Utilities/FeedParser.Test/TestData/Rss/meituan.xml"
QUIET = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ROBOTSTXT_OBEY=False")



def test_gb2312_gbk_and_gb18030_pages_become_correct_text(home):
    need(FIXTURES)
    routes = [
        # GB18030 bytes, no charset header: the page's own meta tag (GB2312) must be read
        Route("/people.html", FIXTURES / PEOPLE, content_type="text/html", encoding="gb18030"),
        # GBK bytes with the charset in the header only (the page's meta says utf-8)
        Route("/xinhua.html", FIXTURES / XINHUA, content_type="text/html; charset=gbk", encoding="gbk"),
    ]
    with Replay(routes) as replay:
        urls = f"{replay.url}/people.html,{replay.url}/xinhua.html"
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={urls}", *QUIET, home=home)
    assert "stored 2 new posts" in result.stdout
    by_path = {p["url"].rsplit("/", 1)[1]: p for p in stored_posts(home).values()}
    assert by_path["people.html"]["title"].startswith("女儿出嫁，郑板桥画了几笔兰花当嫁妆")
    assert "父亲节" in by_path["people.html"]["text"]
    assert "法国" in by_path["xinhua.html"]["title"] and "罢工" in by_path["xinhua.html"]["text"]
    assert not any("\ufffd" in p["text"] or "Ã" in p["text"] for p in by_path.values())


def test_pool_cookies_and_proxies_are_used_and_never_logged(home):
    need(FIXTURES)
    (home.home / "pool.toml").write_text(
        'proxies = ["http://crawler:s3cret-proxy@127.0.0.1:{port}"]\n[cookies]\n"feeds.example.org" = ["SUB=first-s3cret", "SUB=second-s3cret"]\n'
    )
    with Replay([Route(f"/feed{n}.xml", FIXTURES / FEED, content_type="application/rss+xml") for n in range(4)]) as replay:
        pool = home.home / "pool.toml"
        pool.write_text(pool.read_text().replace("{port}", replay.url.rsplit(":", 1)[1]))
        # an unresolvable host, reached only through the proxy (the replay server)
        urls = ",".join(f"http://feeds.example.org/feed{n}.xml" for n in range(4))
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={urls}", *QUIET,
                             "-s", "LOG_LEVEL=DEBUG", home=home)
    assert "crawl manual-news: ok" in result.stdout
    feeds = [seen for seen in replay.seen if seen.path.startswith("/feed")]
    assert len(feeds) == 4 and all("Proxy-Authorization" in seen.headers for seen in feeds)
    assert {seen.headers.get("Cookie") for seen in feeds} == {"SUB=first-s3cret", "SUB=second-s3cret"}
    assert "s3cret" not in result.stdout + result.stderr


def test_expired_cookies_are_retired_and_the_job_says_so(home):
    (home.home / "pool.toml").write_text('[cookies]\n"127.0.0.1" = ["SUB=a", "SUB=b"]\n')
    login = b'{"ok": -100, "url": "https://passport.weibo.cn/signin/welcome"}'
    with Replay([Route("/feed.xml", body=login, content_type="application/json")]) as replay:
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={replay.url}/feed.xml",
                             *QUIET, home=home)
    assert "crawl manual-news: cookie expired" in result.stdout and "the API wants a login" in result.stdout
    assert [seen.headers.get("Cookie") for seen in replay.requests_to("/feed.xml")] == ["SUB=a", "SUB=b"]
    assert stored_posts(home) == {}
    status = crisiswatch("status", "--json", home=home).stdout
    assert '"health": "cookie expired"' not in status or "manual-news" in status


def test_each_post_keeps_its_raw_response(home):
    need(FIXTURES)
    with Replay([Route("/feed.xml", FIXTURES / FEED, content_type="application/rss+xml")]) as replay:
        crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={replay.url}/feed.xml", *QUIET,
                    home=home)
    posts = stored_posts(home).values()
    store = Store(home.database_url)
    try:
        captures = {store.capture_of(p["id"]).sha256: store.capture_of(p["id"]) for p in posts}
    finally:
        store.close()
    assert len(posts) > 1 and len(captures) == 1  # one feed response, kept once for all its entries
    capture = next(iter(captures.values()))
    assert capture.body == (FIXTURES / FEED).read_bytes() and capture.status == 200
    assert capture.url == f"{replay.url}/feed.xml" and capture.headers["Content-Type"] == "application/rss+xml"


def test_a_failing_site_is_retried_with_growing_delays(home):
    with Replay([Route("/feed.xml", body=b"busy", status=503)]) as replay:
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={replay.url}/feed.xml",
                             *QUIET, "-s", "RETRY_TIMES=3", "-s", "CRISISWATCH_BACKOFF_START=0.5",
                             "-s", "RANDOMIZE_DOWNLOAD_DELAY=False", home=home, check=False)
    times = [seen.at for seen in replay.requests_to("/feed.xml")]
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert len(times) == 4 and "crawl manual-news: errors" in result.stdout and result.returncode == 1
    assert gaps[0] >= 0.45 and gaps[1] >= 0.9 and gaps[2] >= 1.8  # 0.5 s, then doubled each time
