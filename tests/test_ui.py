"""The review UI against real parts: SQLite store, Tantivy index, Flask test client."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import unescape
from html.parser import HTMLParser

import pytest

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from review_ui import create_app

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
PAGED = 25  # tieba posts about 限电, for paging


def _posts():
    posts = [
        make_post(platform="weibo", platform_id="w1", text="全城停电了，什么时候恢复供电？网传要停电三天",
                  author_name="市民小王", url="https://weibo.com/w1", created_at="2024-07-30T10:00:00",
                  reposts_count=12, comments_count=3, likes_count=40),
        make_post(platform="weibo", platform_id="w2", kind="comment", parent_id="w1", text="回复：我家也停电了，太热了",
                  author_name="热心网友", created_at="2024-07-30T11:00:00"),
        make_post(platform="gov", platform_id="g1", title="关于恢复供电的通报", text="供电公司通报：抢修队已出发，预计今晚恢复供电。",
                  author_name="市供电公司", author_verified=True, url="https://gov.example.cn/g1",
                  created_at="2024-07-31T09:00:00"),
        make_post(platform="gov", platform_id="g2", text="计划停电检修公告：8月1日凌晨检修线路",
                  created_at="2024-07-31T23:30:00"),
        make_post(platform="news", platform_id="x1", title="<b>标题</b>", text=XSS + " 停电",
                  author_name="<i>坏人</i>", url="javascript:alert(3)", created_at="2024-08-01T08:00:00"),
    ]
    posts += [
        make_post(platform="tieba", platform_id=f"t{i}", text=f"限电通知 第{i}条", created_at=f"2024-08-02T{i % 24:02d}:00:00")
        for i in range(PAGED)
    ]
    return posts


TAGS = {  # platform id -> (rumor_prob, sentiment, sentiment_score, topics)
    "w1": (0.9, "anxiety", 0.8, ["outage_report", "rumor_rebuttal"]),
    "w2": (0.1, "anger", 0.7, ["outage_report"]),
    "g1": (0.05, "positive", 0.9, ["restoration", "enterprise_response"]),
    "g2": (0.0, "weak_negative", 0.6, ["rationing"]),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = Settings.load(home=home, database_url=f"sqlite:///{home / 'crisiswatch.db'}", index_backend="embedded")
    store = Store(settings.database_url)
    store.upsert_posts(_posts())
    texts = dict(store.posts_to_tag(0, 100))
    ids = {}
    for post_id in texts:
        ids[store.get_post(post_id)["platform_id"]] = post_id
    store.save_tags([Tags(ids[pid], *values, model_version="test-model-1") for pid, values in TAGS.items()])
    assert index_pending(store, EmbeddedIndex(settings.index_dir)) == len(texts)
    store.close()
    app = create_app(settings)  # opens its own store and index from the settings
    app.config["TESTING"] = True
    app.ids = ids
    return app


@pytest.fixture
def client(app):
    return app.test_client()  # a fresh client per test: no language cookie carried over


class Links(HTMLParser):
    """Every link of a page as (href, text, attributes), and the facet entries."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[tuple[str, str, dict]] = []
        self._open: list | None = None
        self._section: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "facet" in (attrs.get("class") or "").split():
            self._section = attrs["class"]
        if tag == "a":
            self._open = [attrs.get("href"), "", {**attrs, "section": self._section}]

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            self.links.append((self._open[0], self._open[1].strip(), self._open[2]))
            self._open = None
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._open:
            self._open[1] += data

    def facet(self, facet: str, name: str) -> tuple[str, int, bool]:
        """(href, count, active) of a facet entry by its display name."""
        for href, text, attrs in self.links:
            if attrs["section"] == f"facet facet-{facet}":
                match = re.fullmatch(r"✓?\s*(.+?)(\d+)", text)
                if match and match.group(1).strip() == name:
                    return href, int(match.group(2)), attrs.get("aria-current") == "true"
        raise AssertionError(f"no facet entry {facet}/{name}")

    def href(self, text: str) -> str:
        for href, link_text, _ in self.links:
            if link_text == text:
                return href
        raise AssertionError(f"no link {text!r}")


def api(client, query: str) -> dict:
    response = client.get("/api/search?" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def html(response) -> str:
    return response.get_data(as_text=True)


# -- search page ---------------------------------------------------------------------


def test_search_finds_chinese_word_and_highlights_it(client):
    response = client.get("/?q=停电")
    page = html(response)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in page
    assert "共 4 条结果" in page
    assert "全城<mark>停电</mark>了" in page
    assert "回复：我家也<mark>停电</mark>了" in page
    assert "限电通知" not in page
    # Tags: rumor probability in %, sentiment and topics in Chinese; China time.
    assert "谣言概率 90%" in page and "焦虑" in page and "停电报告" in page and "谣言与辟谣" in page
    assert "2024-07-30 10:00" in page


def test_empty_query_lists_everything_newest_first(client):
    data = api(client, "")
    assert data["total"] == 5 + PAGED
    assert data["hits"][0]["platform"] == "tieba"  # 2024-08-02, the newest day


def test_facet_counts_appear_and_links_filter(client):
    links = Links(html(client.get("/?q=停电")))
    assert links.facet("platform", "微博")[1:] == (2, False)
    assert links.facet("platform", "官方发布")[1] == 1
    assert links.facet("platform", "新闻网站")[1] == 1
    assert links.facet("platform", "贴吧")[1] == 0
    assert links.facet("sentiment", "焦虑")[1] == 1
    assert links.facet("topics", "停电报告")[1] == 2

    href, _, _ = links.facet("platform", "微博")
    filtered = client.get(unescape(href))
    page = html(filtered)
    assert "共 2 条结果" in page
    assert "计划<mark>停电</mark>" not in page
    links = Links(page)
    href, count, active = links.facet("platform", "微博")
    assert (count, active) == (2, True)
    assert "platform=weibo" not in href  # the active entry's link removes the filter
    assert "共 4 条结果" in html(client.get(unescape(href)))

    # Topic facet link, combined with the platform filter kept in the URL.
    href, count, _ = Links(page).facet("topics", "谣言与辟谣")
    assert count == 1
    assert api(client, unescape(href).split("?", 1)[1])["total"] == 1


def test_facet_chips_remove_filters(client):
    page = html(client.get("/?q=停电&platform=weibo&sentiment=anger"))
    assert "共 1 条结果" in page
    links = Links(page)
    chip = next(href for href, text, attrs in links.links if attrs.get("class") == "chip" and text.startswith("情绪"))
    assert "共 2 条结果" in html(client.get(unescape(chip)))


def test_rumor_only_filter(client):
    page = html(client.get("/?q=停电&rumor=1"))
    assert "共 1 条结果" in page
    assert "全城<mark>停电</mark>了" in page
    data = api(client, "q=停电&rumor=1")
    assert [hit["id"] for hit in data["hits"]] == [client.application.ids["w1"]]
    assert data["facets"]["rumor"] == [{"value": "likely", "count": 1}]


def test_since_until_filter_in_china_time(client):
    data = api(client, "since=2024-07-31&until=2024-07-31")
    # g2 was posted at 23:30 China time: the until date includes its whole day.
    assert sorted(hit["id"] for hit in data["hits"]) == sorted([client.application.ids["g1"], client.application.ids["g2"]])
    assert data["days"] == [{"day": "2024-07-31", "count": 2}]
    assert "共 2 条结果" in html(client.get("/?since=2024-07-31&until=2024-07-31"))
    assert api(client, "q=停电&since=2024-08-01")["total"] == 1


def test_day_histogram_links_filter_one_day(client):
    page = html(client.get("/?q=停电"))
    assert 'class="fill w' in page
    href = next(h for h, text, _ in Links(page).links if text.startswith("2024-07-30"))
    assert "共 2 条结果" in html(client.get(unescape(href)))


def test_paging(client):
    page = html(client.get("/?q=限电&per_page=10"))
    assert f"共 {PAGED} 条结果" in page and "第 1 / 3 页" in page
    assert page.count('class="hit"') == 10
    page2 = html(client.get(unescape(Links(page).href("下一页"))))
    assert "第 2 / 3 页" in page2
    page3 = html(client.get(unescape(Links(page2).href("3"))))
    assert "第 3 / 3 页" in page3 and page3.count('class="hit"') == 5

    seen = []
    for number in (1, 2, 3):
        data = api(client, f"q=限电&per_page=10&page={number}&sort=newest")
        assert data["page"] == number and data["per_page"] == 10 and data["total"] == PAGED
        seen += [hit["id"] for hit in data["hits"]]
    assert len(seen) == len(set(seen)) == PAGED


# -- post page -----------------------------------------------------------------------


def test_post_page_shows_text_tags_metadata_and_replies(client, app):
    response = client.get(f"/posts/{app.ids['w1']}")
    page = html(response)
    assert response.status_code == 200
    assert "全城停电了，什么时候恢复供电？网传要停电三天" in page
    assert "90%" in page and "焦虑" in page and "0.80" in page
    assert "停电报告" in page and "谣言与辟谣" in page and "test-model-1" in page
    assert "市民小王" in page and "2024-07-30 10:00" in page and "12 / 3 / 40" in page
    assert 'href="https://weibo.com/w1"' in page
    # The reply, linked to its own page.
    assert "回复与转发 (1)" in page
    assert "我家也停电了" in page and f'href="/posts/{app.ids["w2"]}"' in page


def test_unknown_post_is_404(client):
    response = client.get("/posts/999999")
    assert response.status_code == 404
    assert "找不到该帖子" in html(response)
    assert client.get("/posts/abc").status_code == 404
    assert client.get("/api/nothing").get_json() == {"error": "Not Found"}


# -- JSON API ------------------------------------------------------------------------


def test_api_search_shape_and_values(client, app):
    data = api(client, "q=停电&platform=weibo&sort=newest")
    assert set(data) >= {"total", "page", "per_page", "hits", "facets", "days"}
    assert (data["total"], data["page"], data["per_page"]) == (2, 1, 20)
    first = data["hits"][0]
    assert {"id", "platform", "title", "text", "snippet_html", "created_at", "url", "author_name", "tags"} <= set(first)
    assert first["id"] == app.ids["w2"]  # newest first
    second = data["hits"][1]
    assert second["text"] == "全城停电了，什么时候恢复供电？网传要停电三天"
    assert "<mark>停电</mark>" in second["snippet_html"]
    assert datetime.fromisoformat(second["created_at"]) == datetime(2024, 7, 30, 2, 0, tzinfo=timezone.utc)
    assert second["url"] == "https://weibo.com/w1" and second["author_name"] == "市民小王"
    assert second["tags"] == {"rumor_prob": 0.9, "sentiment": "anxiety", "sentiment_score": 0.8,
                              "topics": ["outage_report", "rumor_rebuttal"], "model_version": "test-model-1"}
    assert set(data["facets"]) == {"platform", "sentiment", "topics", "rumor"}
    assert data["facets"]["platform"] == [{"value": "weibo", "count": 2}]
    assert {"value": "outage_report", "count": 2} in data["facets"]["topics"]
    assert data["days"] == [{"day": "2024-07-30", "count": 2}]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "posts": 5 + PAGED}


# -- bad queries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, zh",
    [
        ("since=2024-08-01&until=2024-07-01", "开始日期晚于结束日期"),
        ("q=" + "停" * 300, "查询词超过 200 个字"),
        ("page=abc", "必须是整数"),
        ("page=99999999", "页码必须在 1 到 500 之间"),
        ("page=1_0", "必须是整数"),
        ("per_page=1000", "每页条数必须在 1 到 100 之间"),
        ("since=yesterday", "不是有效日期"),
        ("platform=twitter", "未知平台"),
        ("sort=random", "未知排序方式"),
        ("q=%21%21%21", "没有可搜索的字词"),
        ("topic=" + "x" * 500, "取值过长"),
    ],
)
def test_bad_query_gives_friendly_error(client, query, zh):
    response = client.get("/?" + query)
    assert response.status_code == 400
    page = html(response)
    assert 'role="alert"' in page and zh in page
    assert "Traceback" not in page
    api_response = client.get("/api/search?" + query)
    assert api_response.status_code == 400
    assert zh in api_response.get_json()["error"]


def test_bad_query_error_in_english(client):
    response = client.get("/api/search?since=2024-08-01&until=2024-07-01&lang=en")
    assert response.get_json() == {"error": "the start of the time range is after its end"}
    assert "the start of the time range is after its end" in html(client.get("/?since=2024-08-01&until=2024-07-01"))


# -- language ------------------------------------------------------------------------


def test_english_via_lang_parameter_is_remembered(client):
    response = client.get("/?q=停电&lang=en")
    page = html(response)
    assert '<html lang="en">' in page
    assert "4 results" in page and "Outage report" in page and "Likely rumors only" in page and "Anxiety" in page
    assert "lang=en" in response.headers["Set-Cookie"]
    # The cookie keeps English without the parameter, and ?lang=zh switches back.
    assert '<html lang="en">' in html(client.get("/"))
    assert "Not found" in html(client.get("/posts/999999"))
    assert '<html lang="zh-CN">' in html(client.get("/?lang=zh"))
    assert '<html lang="zh-CN">' in html(client.get("/"))


def test_unknown_language_falls_back_to_chinese(client):
    page = html(client.get("/?lang=fr"))
    assert '<html lang="zh-CN">' in page and "搜索" in page


# -- security ------------------------------------------------------------------------


def assert_escaped(page: str):
    assert "<script>" not in page
    assert "<img src=x" not in page
    assert "<b>标题</b>" not in page and "<i>坏人</i>" not in page
    assert 'href="javascript:' not in page


def test_xss_on_search_page(client):
    for url in ("/?q=alert", "/", "/?q=停电&platform=news"):
        page = html(client.get(url))
        assert_escaped(page)
    page = html(client.get("/?q=alert"))
    assert "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;" in page  # the snippet
    assert "&lt;b&gt;标题&lt;/b&gt;" in page and "&lt;i&gt;坏人&lt;/i&gt;" in page
    assert "&lt;script&gt;" in html(client.get("/?platform=news"))


def test_xss_on_post_page(client, app):
    page = html(client.get(f"/posts/{app.ids['x1']}"))
    assert_escaped(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;标题&lt;/b&gt;" in page and "&lt;i&gt;坏人&lt;/i&gt;" in page
    assert "javascript:alert(3)" in page  # shown as text, never as a link


def test_xss_in_json(client, app):
    response = client.get("/api/search?q=alert")
    assert response.mimetype == "application/json"
    assert b"<script>" not in response.data and b"<img" not in response.data
    hit = response.get_json()["hits"][0]
    assert hit["id"] == app.ids["x1"]
    assert hit["text"] == XSS + " 停电"  # the data itself is unchanged
    assert "&lt;script&gt;" in hit["snippet_html"] and "<script>" not in hit["snippet_html"]


def test_reflected_parameters_are_escaped(client):
    page = html(client.get("/?q=%3Cscript%3Ealert(1)%3C/script%3E&since=%22%3E%3Cscript%3E&topic=%3Cscript%3E"))
    assert "<script>" not in page


def test_crafted_link_parameters_are_dropped(client):
    page = html(client.get("/?_external=1&_scheme=javascript&platform=weibo"))
    assert "javascript" not in page and "_external" not in page


@pytest.mark.parametrize("url", ["/", "/?q=停电", "/posts/1", "/posts/999999", "/api/search?q=停电", "/healthz", "/static/style.css"])
def test_security_headers(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()


def test_no_inline_styles_or_scripts(client):
    # The CSP forbids them; the pages must not depend on them.
    page = html(client.get("/?q=停电"))
    assert "style=" not in page and "<style" not in page and "<script" not in page
