"""Real Scrapy crawls over HTTP: replays of captured pages, and the demo site's list pages."""

import socket
import struct
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

import feedparser
import pytest

from core.store import Store
from crawlers.jobs import JobError, load_jobs
from crawlers.loopback import serve_directory
from review_ui import create_app
from tests.conftest import FIXTURES, REPO, crisiswatch, free_port, logged_in_client, need, stored_posts
from tests.crawlers.replay import FEEDS

pytestmark = pytest.mark.slow  # every test here starts a process or a server

ARTICLES = {
    "news/GeneralNewsExtractor/tests/163/8.html": ("国务院联防联控机制:湖北和武汉要严格管控防输出", "2020-02-29T10:34:31"),
    "news/GeneralNewsExtractor/tests/xinhuanet/1.html": ("法国全国大罢工再次严重影响交通-新华网", None),
    "news/GeneralNewsExtractor/tests/sina/1.html": ("中国人习以为常的地方 为何老外却说“了不得”？", None),
}


@pytest.fixture(scope="module")
def replay():
    """The captured pages on loopback (DOM snapshots are UTF-8, served as such)."""
    server, url = serve_directory(need(FIXTURES))
    yield url
    server.shutdown()



def test_feeds_and_articles_end_to_end(home, replay):
    urls = [f"{replay}/{path}" for path in FEEDS + list(ARTICLES)]
    result = crisiswatch("crawl", "--spider", "news", "-a", "start_urls=" + ",".join(urls), "-s", "LOG_LEVEL=WARNING", home=home)
    entries = sum(len(feedparser.parse((FIXTURES / path).read_bytes()).entries) for path in FEEDS)
    assert f"stored {entries + len(ARTICLES)} new posts" in result.stdout
    posts = list(stored_posts(home).values())
    assert len(posts) == entries + len(ARTICLES)
    by_url = {p["url"]: p for p in posts}
    for path, (title, when) in ARTICLES.items():
        post = by_url[f"{replay}/{path}"]
        assert post["title"] == title and post["kind"] == "article" and len(post["text"]) > 200
        assert post["author_name"] and ":" not in post["author_name"]  # a name or a host, never host:port
        if when:
            assert post["created_at"] == datetime.fromisoformat(when).replace(tzinfo=timezone.utc)
    assert all("<p>" not in p["text"] and "<script" not in p["text"] for p in posts)
    feed_post = next(p for p in posts if p["url"] and "ruanyifeng.com" in p["url"])
    assert feed_post["created_at"] is not None and feed_post["title"]

    again = crisiswatch("crawl", "--spider", "news", "-a", "start_urls=" + ",".join(urls), "-s", "LOG_LEVEL=WARNING", home=home)
    assert "stored 0 new posts" in again.stdout and f"{entries + len(ARTICLES)} already stored" in again.stdout
    assert len(list(stored_posts(home).values())) == entries + len(ARTICLES)


GOV = "gov/GeneralNewsExtractor/tests"
RELEASES = {  # the real release pages of government bodies, and the titles they give
    "other/1.html": "全国人民代表大会常务委员会关于批准财政部发行特别国债购买外汇及调整2007 年末国债余额限额的决议",
    "cmse/1.html": "天宫一号与神舟九号载人交会对接任务第二场新闻发布会",
    "gzggw/1.html": "1-10月德清县固定资产投资结构趋稳趋优",
}


def test_official_release_pages_are_stored_as_releases(home, replay):
    urls = ",".join(f"{replay}/{GOV}/{path}" for path in RELEASES)
    result = crisiswatch("crawl", "--spider", "releases", "--store-only", "-a", f"start_urls={urls}",
                         "-s", "LOG_LEVEL=WARNING", home=home)
    assert f"stored {len(RELEASES)} new posts" in result.stdout
    by_url = {p["url"]: p for p in stored_posts(home).values()}
    for path, title in RELEASES.items():
        post = by_url[f"{replay}/{GOV}/{path}"]
        assert post["platform"] == "gov" and post["kind"] == "release" and post["title"].startswith(title)
        assert post["created_at"] is not None and post["capture_sha"]


def test_a_job_follows_list_pages_and_its_posts_are_found_in_the_ui(home):
    result = crisiswatch("crawl", "demo-releases", home=home)
    assert "crawl demo-releases: ok" in result.stdout and "stored 4 new posts" in result.stdout
    assert "tagged 4 posts" in result.stdout and "indexed 4 posts" in result.stdout
    posts = list(stored_posts(home).values())
    assert {p["platform"] for p in posts} == {"gov"} and all(p["kind"] == "release" for p in posts)
    assert any(p["title"] == "关于实施有序用电的公告" for p in posts)
    assert all(p["created_at"].hour != 16 for p in posts)  # the time of day came through, not just the date
    assert all(p["tags"] is not None for p in posts)
    assert {p["author_name"] for p in posts} == {"滨海市人民政府 新闻发布"}  # the site's name, not 127.0.0.1:port
    status = crisiswatch("status", "--json", home=home).stdout
    assert '"health": "ok"' in status and '"name": "demo-releases"' in status

    client = logged_in_client(create_app(home))
    found = client.get("/api/search", query_string={"q": "有序用电", "platform": "gov"}).get_json()
    notice = next(p for p in posts if p["title"] == "关于实施有序用电的公告")
    assert notice["id"] in [hit["id"] for hit in found["hits"]]
    page = client.get(f"/posts/{notice['id']}").get_data(as_text=True)
    assert "关于实施有序用电的公告" in page and f"/posts/{notice['id']}/capture" in page
    raw = client.get(f"/posts/{notice['id']}/capture")  # the evidence: the page exactly as served
    assert raw.headers["Content-Type"] == "application/octet-stream" and "attachment" in raw.headers["Content-Disposition"]
    served = [f for f in (REPO / "crawlers/demo_site/gov/notices").iterdir() if f.read_bytes() == raw.data]
    assert len(served) == 1


def test_no_spider_module_loads_the_store():
    """Checkpoints load and save through crawlers.extensions.Checkpoints, not in the spiders."""
    code = ("import importlib, pkgutil, sys, crawlers.spiders as spiders\n"
            "for module in pkgutil.iter_modules(spiders.__path__, 'crawlers.spiders.'):\n"
            "    importlib.import_module(module.name)\n"
            "print('core.store' in sys.modules)")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_unknown_jobs_and_bad_arguments_say_what_to_do(home, tmp_path):
    result = crisiswatch("crawl", "no-such-job", home=home, check=False)
    assert result.returncode == 1 and "no job named 'no-such-job'" in result.stderr and "demo-news" in result.stderr
    bad = tmp_path / "jobs.toml"
    bad.write_text('[[job]]\nname = "x"\nspider = "news"\nstart_urls = ["http://127.0.0.1/"]\nschedule = "hourly"\n')
    with pytest.raises(JobError, match="not a 5-field cron"):
        load_jobs(bad)


def test_the_job_list_says_what_the_demo_site_placeholder_is_or_shows_its_address(home, monkeypatch):
    monkeypatch.delenv("CRISISWATCH_DEMO_SITE", raising=False)
    listed = crisiswatch("crawl", "--list", home=home).stdout
    assert "{demo_site}/news/index.html" in listed
    assert "{demo_site} is the bundled illustrative site, served on a free loopback port while such a job runs" in listed
    monkeypatch.setenv("CRISISWATCH_DEMO_SITE", "http://127.0.0.1:8765")  # as while the demo runs
    listed = crisiswatch("crawl", "--list", home=home).stdout
    assert "http://127.0.0.1:8765/news/index.html" in listed and "{demo_site}" not in listed


def test_a_news_page_with_a_url_of_any_length_is_stored_under_the_full_url(home, replay):
    page = f"{replay}/news/GeneralNewsExtractor/tests/163/8.html?from=" + "x" * 2500
    urls = [f"{page}&n=1", f"{page}&n=2"]  # the same long beginning, two pages
    result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", "start_urls=" + ",".join(urls),
                         "-s", "LOG_LEVEL=WARNING", home=home)
    assert "stored 2 new posts" in result.stdout and "0 rejected" in result.stdout
    posts = list(stored_posts(home).values())
    assert sorted(p["url"] for p in posts) == urls
    assert all(len(p["platform_id"]) <= 200 and p["platform_id"].startswith(replay) for p in posts)


def test_a_page_without_a_charset_and_with_a_bad_byte_is_read_as_chinese(home, tmp_path):
    paragraph = "东湖区今天上午突发大面积停电，供电公司已组织抢修人员赶赴现场，预计下午三点前恢复供电。"
    for name, encoding in (("utf8", "utf-8"), ("gb", "gb18030")):
        html = (f"<html><head><title>{name} 停电通知</title></head><body><h1>{name} 停电通知</h1>"
                + f"<p>{paragraph}</p>" * 6 + "</body></html>").encode(encoding)
        cut = html.index(b"<p>") + 3 + len(paragraph.encode(encoding)) * 3  # a stray byte amid the text
        (tmp_path / f"{name}.html").write_bytes(html[:cut] + b"\xff" + html[cut:])
    server, url = serve_directory(tmp_path, charset=None)  # Content-Type: text/html, no charset
    try:
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={url}/utf8.html,{url}/gb.html",
                             "-s", "LOG_LEVEL=WARNING", home=home)
    finally:
        server.shutdown()
    assert "stored 2 new posts" in result.stdout
    for post in stored_posts(home).values():
        assert post["text"].count(paragraph) >= 5 and post["title"].endswith("停电通知")


def test_a_news_crawl_without_start_urls_is_a_usage_error_and_no_run_stays_running(home):
    for args in ([], ["-a", "start_urls="], ["-a", "start_urls= , "]):
        result = crisiswatch("crawl", "--spider", "news", "--store-only", *args, home=home, check=False)
        assert result.returncode == 2 and "needs start URLs: -a start_urls=URL" in result.stderr
        assert "Traceback" not in result.stderr
    store = Store(home.database_url)
    try:
        assert [(run["job"], run["status"]) for run in store.last_crawl_runs()] == [("manual-news", "failed")]
    finally:
        store.close()


def test_a_start_url_that_is_not_a_web_address_is_a_usage_error(home):
    for url in ("not a url", "http://[::1/feed.xml", "ftp://127.0.0.1/feed.xml", "http://127.0.0.1:99999/"):
        result = crisiswatch("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={url}",
                             "-s", "LOG_LEVEL=CRITICAL", home=home, check=False)
        assert result.returncode == 2 and f"{url!r} is not a web address" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_a_weibo_crawl_from_a_time_that_is_not_an_hour_is_a_usage_error(home):
    result = crisiswatch("crawl", "--spider", "weibo", "--store-only", "-a", "keywords=停电", "-a", "since=2020-02-01",
                         "-s", "LOG_LEVEL=CRITICAL", home=home, check=False)
    assert result.returncode == 2 and "'2020-02-01' is not an hour such as 2020-02-01-8" in result.stderr, result.stderr


def test_a_crawl_that_fails_exits_non_zero(home):
    unreachable = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens there
    result = crisiswatch("crawl", "--spider", "news", "-a", f"start_urls={unreachable}", "-s", "RETRY_TIMES=0",
                         "-s", "ROBOTSTXT_OBEY=False", "-s", "LOG_LEVEL=CRITICAL", home=home, check=False)
    assert result.returncode == 1 and "crawl manual-news: errors; 0 pages" in result.stdout


def test_a_client_that_drops_its_connection_is_no_traceback_of_the_loopback_site(tmp_path, capfd):
    (tmp_path / "big.html").write_bytes(b"<p>" + "停电".encode() * 4_000_000 + b"</p>")  # more than socket buffers hold
    server, url = serve_directory(tmp_path)
    try:
        for _ in range(3):
            with socket.create_connection(server.server_address) as client:
                client.sendall(b"GET /big.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                client.recv(1024)  # the answer has begun
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        time.sleep(1)  # the server finds out as it writes on
        assert urllib.request.urlopen(f"{url}/big.html").status == 200  # and still serves
    finally:
        server.shutdown()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "ConnectionResetError" not in captured.err
