"""The review UI against real parts: SQLite store, Tantivy index, Flask test client."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from html import unescape
from html.parser import HTMLParser

import pytest

from core.schema import Tags, content_hash, make_post
from core.settings import Settings
from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from indexes.query import FACETS, QueryError, SearchQuery
from indexes.results import SearchPage
from review_ui import create_app, i18n, navigation
from tests.conftest import html, logged_in_client, statements_with

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
PAGED = 25  # tieba posts about 限电, for paging
COPY = "高温天气请错峰用电，节约能源"  # posted twice: a cluster of near-duplicates
TOTAL = 5 + PAGED + 2


def _posts():
    posts = [
        make_post(platform="weibo", platform_id="w1", text="全城停电了，什么时候恢复供电？网传要停电三天",
                  author_name="市民小王", author_verified=False, url="https://weibo.com/w1", created_at="2024-07-30T10:00:00",
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
        make_post(platform="tieba", platform_id=f"t{i}", text=f"限电通知 第{i}条", created_at=f"2024-08-02T{i % 24:02d}:00:00",
                  likes_count=i % 5)  # ties in engagement, for the cursor
        for i in range(PAGED)
    ]
    posts += [
        make_post(platform=platform, platform_id=f"c-{platform}", text=COPY, created_at="2024-07-29T08:00:00",
                  author_id="5012345678" if platform == "weibo" else None)  # a corpus row: a user id, no name
        for platform in ("wechat", "weibo")
    ]
    return posts


TAGS = {  # platform id -> (rumor_prob, sentiment, sentiment_score, topics, emotion, places)
    "w1": (0.9, "anxiety", 0.8, ["outage_report", "rumor_rebuttal"], "fear", ["420100"]),
    "w2": (0.1, "anger", 0.7, ["outage_report"], "anger", ["420100", "420102"]),
    "g1": (0.05, "positive", 0.9, ["restoration", "enterprise_response"], "gratitude", ["420102"]),
    "g2": (0.0, "weak_negative", 0.6, ["rationing"], None, []),
}
SCORED = {"g1": {"polarity": "positive", "polarity_score": 0.86,
                 "emotion_scores": {"gratitude": 0.7, "optimism": 0.2, "anger": 0.1}},
          "w1": {"polarity": "negative", "polarity_score": 0.7}, "w2": {"polarity": "negative", "polarity_score": 0.9}}


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
    store.save_tags([Tags(ids[pid], *values[:4], model_version="test-model-1", emotion=values[4], places=values[5],
                          **SCORED.get(pid, {}))
                     for pid, values in TAGS.items()])
    assert index_pending(store, EmbeddedIndex(settings.index_dir)) == len(texts)
    store.close()
    app = create_app(settings)  # opens its own store and index from the settings
    app.config["TESTING"] = True
    app.ids = ids
    return app


@pytest.fixture
def client(app):
    return logged_in_client(app)  # a fresh client per test: no language cookie carried over


class Links(HTMLParser):
    """Every link of a page as (href, text, attributes), and the facet entries."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[tuple[str, str, dict]] = []
        self._open: list | None = None
        self._section: str | None = None
        self._span: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "facet" in (attrs.get("class") or "").split():
            self._section = attrs["class"]
        if tag == "a":
            self._open = [attrs.get("href"), "", {**attrs, "section": self._section}]
        if tag == "span" and self._open:
            self._span = attrs.get("class")

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            self.links.append((self._open[0], self._open[1].strip(), self._open[2]))
            self._open = None
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._open:
            self._open[1] += data
            if self._span:
                self._open[2][f"span_{self._span}"] = self._open[2].get(f"span_{self._span}", "") + data
                self._span = None

    def facet_entries(self, facet: str) -> list[tuple[str, str, int, bool]]:
        """(name, href, count, active) of each clickable entry of a facet."""
        return [
            (attrs["span_name"].strip(), href, int(attrs["span_count"]), attrs.get("aria-current") == "true")
            for href, _, attrs in self.links
            if attrs["section"] == f"facet facet-{facet}"
        ]

    def facet(self, facet: str, name: str) -> tuple[str, int, bool]:
        """(href, count, active) of a facet entry by its display name."""
        for entry_name, href, count, active in self.facet_entries(facet):
            if entry_name == name:
                return href, count, active
        raise AssertionError(f"no facet entry {facet}/{name}")

    def bar(self, label: str) -> tuple[str, int]:
        """(href, count) of a histogram bar by its day or hour."""
        for href, _, attrs in self.links:
            if attrs.get("span_day") == label:
                return href, int(attrs["span_count"])
        raise AssertionError(f"no histogram bar {label!r}")

    def href(self, text: str) -> str:
        for href, link_text, _ in self.links:
            if link_text == text:
                return href
        raise AssertionError(f"no link {text!r}")


def api(client, query: str) -> dict:
    response = client.get("/api/search?" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def hit_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<h3 class="hit-title"><a href="/posts/(\d+)"', page)]


def follow(client, href: str):
    return client.get(unescape(href))


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
    assert data["total"] == TOTAL
    assert data["hits"][0]["platform"] == "tieba"  # 2024-08-02, the newest day


def test_facet_counts_appear_and_links_filter(client):
    links = Links(html(client.get("/?q=停电")))
    assert links.facet("platform", "微博")[1:] == (2, False)
    assert links.facet("platform", "官方发布")[1] == 1
    assert links.facet("platform", "新闻网站")[1] == 1
    assert links.facet("platform", "贴吧")[1] == 0
    assert links.facet("sentiment", "焦虑")[1] == 1
    assert links.facet("polarity", "负面")[1] == 2 and links.facet("polarity", "中性")[1] == 0
    assert api(client, "q=停电&polarity=negative")["total"] == 2
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
    chip = next(href for href, text, attrs in links.links if attrs.get("class") == "chip" and text.startswith("情感"))
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
    assert data["interval"] == "day" and data["histogram"] == [{"key": "2024-07-31", "count": 2}]
    assert "共 2 条结果" in html(client.get("/?since=2024-07-31&until=2024-07-31"))
    assert api(client, "q=停电&since=2024-08-01")["total"] == 1


def test_day_histogram_links_filter_one_day(client):
    page = html(client.get("/?q=停电"))
    assert 'class="fill w' in page
    href, count = Links(page).bar("2024-07-30")
    assert count == 2 and "共 2 条结果" in html(client.get(unescape(href)))


def test_histogram_bars_scale_from_zero_and_a_small_count_stays_visible(client):
    query = SearchQuery()
    page = SearchPage(query=query, total=580, hits=[], facets={}, next_after=None,
                      histogram=[("2024-07-29", 3), ("2024-07-31", 577), ("2024-08-01", 20)])
    bars = navigation.histogram(page, lambda changes: "#")["bars"]
    assert [(bar["key"], bar["count"], bar["step"]) for bar in bars] == [
        ("2024-07-29", 3, 0), ("2024-07-30", 0, 0), ("2024-07-31", 577, 100), ("2024-08-01", 20, 5)]
    # the page gives a bar with posts a visible minimum, and an empty bar none
    listed = html(client.get("/?q=停电"))
    assert 'class="fill w100 nonzero"' in listed and 'class="fill w0"' not in listed
    empty_day = html(client.get("/?q=限电+OR+回复"))  # 07-30 and 08-02, nothing in between
    assert '<span class="fill w0"></span></span><span class="count">0</span>' in empty_day
    assert ".bars .fill.nonzero { min-width: 2px; }" in client.get("/static/style.css").get_data(as_text=True)


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


def test_summary_says_how_far_numbered_pages_go(client, monkeypatch):
    """Relevance pages stop at a depth (10,000 results); the summary names the last page
    reached, not the result's page count. The depth is lowered here to fit the fixture."""
    from review_ui import navigation

    monkeypatch.setattr(navigation, "MAX_RELEVANCE_DEPTH", 20)
    page = html(client.get("/?q=限电&per_page=10"))
    assert f"共 {PAGED} 条结果 · 第 1 页，可翻至第 2 页（其余请改按最新排序或缩小范围）" in page
    assert "/ 3 页" not in page and ">3</a>" not in page
    english = html(client.get("/?q=限电&per_page=10&lang=en"))
    assert f"{PAGED} results · page 1; pages go to 2" in english


# -- filters, facets, histogram, sorting and paging of the query model ----------------

FILTERED = [  # query string -> platform ids of the posts it finds
    ("emotion=fear", {"w1"}),
    ("emotion=fear&emotion=anger", {"w1", "w2"}),
    ("place=420100", {"w1", "w2"}),
    ("place=420102&emotion=gratitude", {"g1"}),
    ("verified=yes", {"g1"}),
    ("verified=no", {"w1"}),
    ("rumor_min=0.5", {"w1"}),
    ("rumor_max=0.06", {"g1", "g2"}),
    ("rumor_min=0.05&rumor_max=.1", {"g1", "w2"}),
    ("q=停电&verified=no&emotion=fear&place=420100", {"w1"}),
    (f"cluster={content_hash(COPY)}", {"c-wechat", "c-weibo"}),
]


@pytest.mark.parametrize("query, expected", FILTERED)
def test_new_filters_via_page_and_api(client, app, query, expected):
    ids = {app.ids[pid] for pid in expected}
    data = api(client, query + "&per_page=100")
    assert {hit["id"] for hit in data["hits"]} == ids and data["total"] == len(ids)
    # The page takes the rumor range in percent, as its cards show it; the API as 0-1.
    page = html(client.get("/?" + re.sub(r"(rumor_m..)=([.\d]+)", lambda m: f"{m[1]}={float(m[2]) * 100:g}", query)))
    assert f"共 {len(ids)} 条结果" in page
    assert set(hit_ids(page)) == ids


def test_emotion_place_and_verified_facets(client):
    links = Links(html(client.get("/?q=停电+OR+供电")))  # w1, w2, g1, g2 and x1
    assert links.facet("emotion", "恐惧")[1:] == (1, False)
    assert links.facet("emotion", "愤怒")[1] == 1 and links.facet("emotion", "感激")[1] == 1
    assert links.facet("emotion", "悲伤")[1] == 0  # every known emotion is listed
    assert links.facet("verified", "已认证")[1] == 1 and links.facet("verified", "未认证")[1] == 1
    assert links.facet("places", "武汉市")[1] == 2  # administrative codes shown by the gazetteer's names

    page = html(follow(client, links.facet("emotion", "恐惧")[0]))
    assert "共 1 条结果" in page and "情绪：恐惧" in page  # the chip
    href, count, active = Links(page).facet("emotion", "恐惧")
    assert (count, active) == (1, True)
    assert "共 5 条结果" in html(follow(client, href))  # clicking again removes the filter

    page = html(follow(client, links.facet("places", "武汉市")[0]))
    assert "共 2 条结果" in page and "地区：武汉市" in page
    assert Links(page).facet("places", "江岸区")[1] == 1

    # verified takes one value: choosing the other replaces it.
    page = html(follow(client, links.facet("verified", "已认证")[0]))
    assert "共 1 条结果" in page and "作者认证：已认证" in page
    href = Links(page).facet("verified", "未认证")[0]
    assert "verified=no" in href and "verified=yes" not in href
    page = html(follow(client, href))
    assert "共 1 条结果" in page and "作者认证：未认证" in page

    english = Links(html(client.get("/?q=停电+OR+供电&lang=en")))
    assert english.facet("emotion", "Fear")[1] == 1 and english.facet("verified", "Not verified")[1] == 1


def test_cluster_facet_lists_near_duplicates_named_by_their_text(client, app):
    digest = content_hash(COPY)
    links = Links(html(client.get("/")))
    entries = links.facet_entries("cluster")
    assert [(name, count) for name, _, count, _ in entries] == [(COPY, 2)]  # no singletons; named by its text
    assert f'title="簇编号 {digest}（起草回应时填入“回应的谣言簇”）"' in html(client.get("/"))  # its id, for releases
    page = html(follow(client, entries[0][1]))
    assert "共 2 条结果" in page and f"重复文本：{COPY}" in page  # the chip
    assert Links(page).facet("cluster", COPY)[2]  # active
    assert f"#{digest[:6]}" not in page
    # The post page links to the copies of its text, by that text.
    post = html(client.get(f"/posts/{app.ids['c-wechat']}"))
    assert f'<a href="/?cluster={digest}">{COPY}</a>' in post
    # A long text gives its first 30 characters; a cluster no post has, its hash.
    store = app.extensions["crisiswatch"].store
    x1 = store.get_post(app.ids["x1"])
    with app.test_request_context("/"):
        assert i18n.label("cluster", x1["cluster"]) == (XSS + " 停电")[:30] + "…"
        assert i18n.label("cluster", "0123456789abcdef") == "近似重复 #012345"


def test_the_search_page_names_its_clusters_in_one_query(client, app):
    """The chips and the facet name every cluster with one look-up, not one per cluster."""
    with statements_with(app.extensions["crisiswatch"].store.engine, "row_number") as looked_up:
        page = html(client.get(f"/?cluster={content_hash(COPY)}&cluster=0123456789abcdef"))
    assert f"重复文本：{COPY}" in page and "重复文本：近似重复 #012345" in page
    assert len(looked_up) == 1


_opened: list[str] | None = None  # while set, the files the process opens (see _record_opens)


def _record_opens(event_name, args):
    if event_name == "open" and _opened is not None:
        _opened.append(str(args[0]))


def test_the_post_page_reads_the_model_cards_once(client, app):
    """The correction forms' labels come from the model cards: read once a page, not once a use."""
    global _opened
    card = app.extensions["crisiswatch"].settings.models_dir / "sentiment.json"
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(json.dumps({"task": "sentiment", "version": "test", "classes": ["positive", "anger"]}),
                    encoding="utf-8")
    sys.addaudithook(_record_opens)  # a hook stays for the process: it records only while _opened is set
    _opened = []
    try:
        page = html(client.get(f"/posts/{app.ids['w1']}?saved=sentiment"))
        reads = _opened.count(str(card))
    finally:
        _opened = None
        card.unlink()
    assert "已保存对“情感”的校正" in page
    assert reads == 1


def test_a_cluster_is_named_by_its_earliest_post_on_each_database(store):
    """The earliest by post time, not the first stored (a crawl may find an older copy later)."""
    rumor = "【紧急通知】今晚8点起琼山区停电三天，请大家提前储水，转发扩散！"
    store.upsert_posts([make_post(platform="weibo", platform_id="late", text=rumor + "!!", created_at="2024-07-30T08:00:00")])
    store.upsert_posts([make_post(platform="weibo", platform_id="early", text=rumor, created_at="2024-07-29T08:00:00")])
    clusters = {post["cluster"] for post in store.get_posts([1, 2]).values()}
    assert len(clusters) == 1  # near-duplicates
    assert store.cluster_texts([*clusters, "nothing"]) == {clusters.pop(): rumor}
    assert store.cluster_texts([]) == {}


def test_facets_keep_filters_in_the_form(client):
    page = html(client.get("/?q=停电&place=420100&cluster=abc&emotion=fear&verified=no&interval=hour&rumor_min=20"))
    assert '<input type="hidden" name="place" value="420100">' in page
    assert '<input type="hidden" name="cluster" value="abc">' in page
    assert '<input type="hidden" name="interval" value="hour">' in page
    assert 'name="emotion" value="fear" checked' in page
    assert 'name="verified" value="no" checked' in page
    assert 'name="rumor_min" value="20"' in page


def test_hour_histogram(client):
    data = api(client, "q=限电&interval=hour")
    assert data["interval"] == "hour" and data["days"] == []
    assert data["histogram"][0] == {"key": "2024-08-02T00", "count": 2}  # t0 and t24
    assert sum(bar["count"] for bar in data["histogram"]) == PAGED and len(data["histogram"]) == 24

    page = html(client.get("/?q=限电&interval=hour"))
    assert "按小时分布（北京时间）" in page
    links = Links(page)
    href, count = links.bar("2024-08-02 00:00")
    assert count == 2
    assert "since=2024-08-02T00:00" in unescape(href) and "until=2024-08-02T00:59:59" in unescape(href)
    hour = html(follow(client, href))
    assert "共 2 条结果" in hour
    assert 'type="datetime-local" name="since" value="2024-08-02T00:00"' in hour  # a date input would drop the hour
    assert "共 1 条结果" in html(follow(client, links.bar("2024-08-02 05:00")[0]))
    everything = Links(html(client.get("/?interval=hour")))  # an empty hour is a bar of 0
    assert everything.bar("2024-07-30 12:00")[1] == 0 and everything.bar("2024-07-30 11:00")[1] == 1

    # The switch back to days, and the day bar's one-day filter.
    day = html(follow(client, links.href("按日")))
    assert "按日分布（北京时间）" in day and "按小时" in day
    href, count = Links(day).bar("2024-08-02")
    assert count == PAGED and f"共 {PAGED} 条结果" in html(follow(client, href))


def test_engagement_sort(client, app):
    data = api(client, "sort=engagement&per_page=3")
    assert data["sort"] == "engagement"
    assert data["hits"][0]["id"] == app.ids["w1"]  # 12 reposts + 3 comments + 40 likes
    data = api(client, "q=限电&sort=engagement&per_page=100")
    likes = [hit["likes_count"] for hit in data["hits"]]
    assert likes == sorted(likes, reverse=True) and likes[0] == 4
    page = html(client.get("/?q=限电&sort=engagement"))
    assert '<option value="engagement" selected>互动最多</option>' in page
    assert '<option value="relevance">相关度</option>' in page and '<option value="newest">最新</option>' in page
    assert "Most engagement" in html(client.get("/?lang=en"))


@pytest.mark.parametrize("sort", ["newest", "engagement"])
@pytest.mark.parametrize("query, per_page", [("q=限电", 7), ("q=限电", 5), ("", 4)])
def test_cursor_walk_by_next_links(client, sort, query, per_page):
    everything = [hit["id"] for hit in api(client, f"{query}&sort={sort}&per_page=100")["hits"]]
    assert len(everything) == (PAGED if query else TOTAL)
    response = client.get(f"/?{query}&sort={sort}&per_page={per_page}")
    seen, pages = [], 0
    while True:
        page = html(response)
        assert response.status_code == 200 and "第 1 /" not in page  # no page numbers
        seen += hit_ids(page)
        pages += 1
        links = Links(page)
        if pages > 1:
            assert "after=" not in links.href("回到第一页")
        nexts = [href for href, text, _ in links.links if text == "下一页"]
        if not nexts:
            break
        assert "after=" in nexts[0] and "&page=" not in nexts[0]
        response = follow(client, nexts[0])
    assert seen == everything  # every post once, in order
    assert pages <= len(everything) // per_page + 1

    # The same walk through the API's next_after.
    seen, after = [], None
    while True:
        data = api(client, f"{query}&sort={sort}&per_page={per_page}" + (f"&after={after}" if after is not None else ""))
        seen += [hit["id"] for hit in data["hits"]]
        after = data["next_after"]
        if after is None:  # the last page has no cursor
            break
    assert seen == everything


def test_cursor_pages_have_first_page_link_and_english_labels(client):
    first = html(client.get("/?q=限电&sort=newest&per_page=10&lang=en"))
    assert "First page" not in first
    second = html(follow(client, Links(first).href("Next page")))
    assert "Next page" in second
    assert hit_ids(html(follow(client, Links(second).href("First page")))) == hit_ids(first)


@pytest.mark.parametrize(
    "q, expected, marked",
    [
        ('"恢复供电"', {"w1", "g1"}, "恢复供电"),
        ('"停电三天"', {"w1"}, "停电三天"),
        ("停电 OR 限电", {"w1", "w2", "g2", "x1"} | {f"t{i}" for i in range(PAGED)}, "限电"),
        ("停电 -回复", {"w1", "g2", "x1"}, "停电"),
        ("停电 NOT 回复", {"w1", "g2", "x1"}, "停电"),
        ('停电 AND "计划停电"', {"g2"}, "计划停电"),
        ("恢复 供电 NOT 通报", {"w1"}, "恢复"),
    ],
)
def test_text_syntax_through_the_page(client, app, q, expected, marked):
    response = client.get("/", query_string={"q": q, "per_page": "100"})
    page = html(response)
    assert response.status_code == 200
    assert set(hit_ids(page)) == {app.ids[pid] for pid in expected}
    assert f"<mark>{marked}</mark>" in page


def test_help_line_in_both_languages(client):
    zh = html(client.get("/"))
    assert 'class="search-help"' in zh and "精确短语" in zh and "OR" in zh and "-词" in zh
    en = html(client.get("/?lang=en"))
    assert 'class="search-help"' in en and "exact phrase" in en and "-word" in en and "must all appear" in en


# -- post page -----------------------------------------------------------------------


def test_post_page_shows_text_tags_metadata_and_replies(client, app):
    response = client.get(f"/posts/{app.ids['w1']}")
    page = html(response)
    assert response.status_code == 200
    assert "全城停电了，什么时候恢复供电？网传要停电三天" in page
    assert "90%" in page and "焦虑" in page and "0.80" in page
    assert "停电报告" in page and "谣言与辟谣" in page and "test-model-1" in page
    assert "<dd>恐惧</dd>" in page  # the emotion
    assert '<a href="/?place=420100">武汉市</a> <span class="code">420100</span>' in page  # places by name and code
    assert "市民小王" in page and "2024-07-30 10:00" in page and "12 / 3 / 40" in page
    assert 'href="https://weibo.com/w1"' in page
    # The reply, linked to its own page.
    assert "回复与转发 (1)" in page
    assert "我家也停电了" in page and f'href="/posts/{app.ids["w2"]}"' in page


def test_a_post_without_an_author_name_shows_its_user_id(client, app):
    post = html(client.get(f"/posts/{app.ids['c-weibo']}"))
    assert "<dt>作者</dt><dd>用户 5012345678</dd>" in post
    assert '<span class="author">用户 5012345678</span>' in html(client.get("/?cluster=" + content_hash(COPY)))
    assert "<dt>作者</dt><dd>—</dd>" in html(client.get(f"/posts/{app.ids['c-wechat']}"))  # neither: a dash
    assert "<dd>user 5012345678</dd>" in html(client.get(f"/posts/{app.ids['c-weibo']}?lang=en"))


def test_post_page_shows_polarity_and_every_emotion_score(client, app):
    page = html(client.get(f"/posts/{app.ids['g1']}"))
    assert "<dt>极性</dt><dd>正面 (0.86)</dd>" in page
    assert "感激 0.70、乐观 0.20、愤怒 0.10" in page  # strongest first
    assert '<li class="tag tag-polarity tag-positive">极性：正面 86%</li>' in html(client.get("/?q=恢复"))
    english = html(client.get(f"/posts/{app.ids['g1']}?lang=en"))
    assert "Polarity" in english and "Positive (0.86)" in english


def test_polarity_sentiment_and_emotion_have_one_name_everywhere(client, app):
    """极性 (negative / neutral / positive), 情感 (the osm2022 labels) and 情绪 (the seven
    COVID emotions) name the same thing in facets, form, chips, cards and the post page."""
    page = html(client.get("/?q=停电&polarity=negative&sentiment=anxiety&emotion=fear"))
    for name in ("极性", "情感", "情绪"):
        assert f"<h2>{name}</h2>" in page and f"<legend>{name}</legend>" in page  # facet and form
    for chip in ("极性：负面", "情感：焦虑", "情绪：恐惧"):
        assert 'class="chip"' in page and chip in page
    for card in ('tag-polarity tag-negative">极性：负面 70%<', 'tag-sentiment tag-anxiety">情感：焦虑 80%<',
                 'tag-emotion">情绪：恐惧<', 'tag-topic">话题：停电报告<', 'tag-place">地区：武汉市<'):
        assert card in page  # every chip on a card says what it is
    assert "细分情绪" not in page and "情感极性" not in page
    with pytest.raises(AssertionError):
        Links(page).facet("emotion", "焦虑")  # anxiety is a sentiment, not one of the seven emotions
    post = html(client.get(f"/posts/{app.ids['w1']}"))
    assert "<dt>情感</dt><dd>焦虑</dd>" in post and "<dt>情绪</dt><dd>恐惧</dd>" in post
    english = html(client.get("/?q=停电&sentiment=anxiety&lang=en"))
    assert "Sentiment: Anxiety 80%" in english and "Polarity: Negative 70%" in english


def test_analyst_corrects_a_tag_with_a_csrf_protected_form(client, app):
    post_id = app.ids["w1"]
    url = f"/posts/{post_id}/corrections"
    assert client.post(url, data={"task": "rumor", "label": "non-rumor"}).status_code == 400  # no token
    token = re.search(r'name="csrf_token" value="([^"]+)"', html(client.get(f"/posts/{post_id}"))).group(1)
    assert client.post(url, data={"csrf_token": token, "task": "rumor", "label": XSS}).status_code == 400
    assert client.post(url, data={"csrf_token": token, "task": "colour", "label": "red"}).status_code == 400
    saved = client.post(url, data={"csrf_token": token, "task": "rumor", "label": "non-rumor"})
    assert saved.status_code == 303
    assert "已校正为：非谣言" in html(follow(client, saved.headers["Location"]))
    store = app.extensions["crisiswatch"].store
    assert store.corrected_examples("rumor") == [(post_id, "全城停电了，什么时候恢复供电？网传要停电三天", "non-rumor")]
    assert client.post("/posts/999999/corrections", data={"csrf_token": token, "task": "rumor",
                                                          "label": "rumor"}).status_code == 404


def test_correction_forms_start_from_the_current_tags_and_an_unchanged_save_records_nothing(client, app):
    post_id = app.ids["g1"]  # tagged non-rumor, positive, gratitude: none of them a first option
    page = html(client.get(f"/posts/{post_id}"))
    for value in ("non-rumor", "positive", "gratitude"):
        assert f'<option value="{value}" selected>' in page
    assert page.count(" selected>") == 3
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    url = f"/posts/{post_id}/corrections"
    store = app.extensions["crisiswatch"].store
    for task, value in (("rumor", "non-rumor"), ("sentiment", "positive"), ("emotion", "gratitude")):
        sent = client.post(url, data={"csrf_token": token, "task": task, "label": value})
        assert sent.status_code == 303 and "unchanged=" in sent.headers["Location"]
    unchanged = client.post(url, data={"csrf_token": token, "task": "topics",
                                       "label": ["enterprise_response", "restoration"]})
    assert "未记录校正" in html(follow(client, unchanged.headers["Location"]))
    assert store.corrections_of(post_id) == {}
    # A post without an emotion: the form says "choose", and sending that records nothing.
    other = app.ids["g2"]
    assert '<option value="" selected>请选择</option>' in html(client.get(f"/posts/{other}"))
    sent = client.post(f"/posts/{other}/corrections", data={"csrf_token": token, "task": "emotion", "label": ""})
    assert "unchanged=emotion" in sent.headers["Location"] and store.corrections_of(other) == {}
    assert client.post(url, data={"csrf_token": token, "task": "sentiment", "label": ""}).status_code == 400
    # A change is recorded once, and is then the current label.
    saved = client.post(url, data={"csrf_token": token, "task": "sentiment", "label": "weak_negative"})
    assert "已保存对“情感”的校正" in html(follow(client, saved.headers["Location"]))
    again = client.post(url, data={"csrf_token": token, "task": "sentiment", "label": "weak_negative"})
    assert "unchanged=sentiment" in again.headers["Location"]
    assert store.corrections_of(post_id) == {"sentiment": "weak_negative"}
    assert '<option value="weak_negative" selected>' in html(client.get(f"/posts/{post_id}"))


def test_only_an_analyst_is_shown_the_correction_forms(client, app):
    url = f"/posts/{app.ids['w1']}"
    assert "/corrections" in html(client.get(url))
    page = logged_in_client(app, roles=("drafter",)).get(url)
    assert page.status_code == 200 and "/corrections" not in html(page)


def test_unknown_post_is_404(client):
    response = client.get("/posts/999999")
    assert response.status_code == 404
    assert "找不到该帖子" in html(response)
    assert client.get("/posts/abc").status_code == 404
    assert client.get("/api/nothing").get_json() == {"error": "Not Found"}


# -- JSON API ------------------------------------------------------------------------


def test_api_search_shape_and_values(client, app):
    data = api(client, "q=停电&platform=weibo&sort=newest")
    assert set(data) >= {"total", "page", "per_page", "hits", "facets", "days", "histogram", "interval", "sort", "next_after"}
    assert data["sort"] == "newest" and data["next_after"] is None  # one page holds them all: no cursor
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
                              "topics": ["outage_report", "rumor_rebuttal"], "model_version": "test-model-1",
                              "emotion": "fear", "places": ["420100"], "emotion_score": None,
                              "emotion_scores": None, "polarity": "negative", "polarity_score": 0.7,
                              "topic_scores": {}, "organisations": [], "locations": [], "tier": "fast"}
    assert set(data["facets"]) == set(FACETS)
    assert {"value": "fear", "count": 1} in data["facets"]["emotion"]
    assert {"value": "420100", "count": 2} in data["facets"]["places"]
    assert data["facets"]["platform"] == [{"value": "weibo", "count": 2}]
    assert {"value": "outage_report", "count": 2} in data["facets"]["topics"]
    assert data["days"] == [{"day": "2024-07-30", "count": 2}]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "posts": TOTAL}


def test_an_outdated_index_is_explained_not_a_server_error(tmp_path):
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded")
    (settings.index_dir / "meta.json").parent.mkdir(parents=True)
    (settings.index_dir / "meta.json").write_text("{}")  # the layout of crisiswatch 0.1
    app = create_app(settings)
    app.config["TESTING"] = True
    client = logged_in_client(app)
    page = client.get("/?q=停电")
    assert page.status_code == 503 and "搜索索引暂时不可用" in html(page) and "crisiswatch index --rebuild" in html(page)
    answer = client.get("/api/search?q=停电&lang=en")
    assert answer.status_code == 503 and "search index cannot be used" in answer.get_json()["error"]


def test_an_outdated_index_is_told_in_the_readers_language(tmp_path):
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded")
    (settings.index_dir / "meta.json").parent.mkdir(parents=True)
    (settings.index_dir / "meta.json").write_text("{}")  # the layout of crisiswatch 0.1
    client = logged_in_client(create_app(settings))
    assert (f"详情：{settings.index_dir} 处的索引由旧版本建立，请运行 `crisiswatch index --rebuild`"
            in html(client.get("/?q=停电")))
    answer = client.get("/api/search?q=停电&lang=en").get_json()["error"]
    assert answer.endswith(f"Details: the index at {settings.index_dir} is from an older version; "
                           "run `crisiswatch index --rebuild`")

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
        ("sort=engagement", None),
        ("sort=" + "x" * 100, "取值过长"),
        ("q=%22停电", "双引号没有成对"),
        ("q=OR+停电", "OR 的两边都需要有关键词"),
        ("q=停电+OR+NOT+限电", "NOT 不能与 OR 连用"),
        ("q=停电+OR+-限电", "NOT 不能与 OR 连用"),
        ("q=停电+OR", "查询以 OR 或 NOT 结尾"),
        ("q=停电+NOT", "查询以 OR 或 NOT 结尾"),
        ("q=(停电)", "不支持括号"),
        ("q=" + "+".join(["停电"] * 21), "查询词超过 20 个"),
        ("interval=week", "未知的时间粒度“week”"),
        ("q=停电&per_page=100&page=101", "按相关度排序最多只能查看前 10000 条结果"),
        ("q=停电&after=5", "翻页位置（after）只能与“最新”或“互动最多”排序一起使用"),
        ("after=-5&sort=newest", "参数 after 必须是整数"),
        ("after=99999999999999999999&sort=newest", "参数 after 必须是整数"),
        ("after=9999999999999999999&sort=newest", "翻页位置（after）无效"),
        ("verified=maybe", "参数 verified 只能是 yes"),
        ("emotion=" + "x" * 100, "参数 emotion 的取值过长"),
        ("&".join(f"place={i}" for i in range(30)), "参数 place 的取值过多"),
        ("polarity=bad", "未知的极性“bad”，可选：负面（negative）、中性（neutral）、正面（positive）。"),
        ("sentiment=joy", "未知的情感“joy”，可选：愤怒（anger）、焦虑（anxiety）"),
        ("emotion=happy", "未知的情绪“happy”，可选：愤怒（anger）"),
        ("topic=nosuch&topic=rationing", "未知的话题“nosuch”，可选：停电报告（outage_report）"),
        ("polarity=negative&sentiment=anger&emotion=fear&topic=rationing", None),
    ],
)
def test_bad_query_gives_friendly_error(client, query, zh):
    if zh is None:  # a valid query among the bad ones, so the list is not vacuous
        assert client.get("/?" + query).status_code == 200
        return
    response = client.get("/?" + query)
    assert response.status_code == 400
    page = html(response)
    assert 'role="alert"' in page and zh in page
    assert "Traceback" not in page
    api_response = client.get("/api/search?" + query)
    assert api_response.status_code == 400
    assert zh in api_response.get_json()["error"]


def test_an_unknown_label_is_refused_in_english_with_the_allowed_values(client):
    answer = client.get("/api/search?sentiment=joy&lang=en")
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "unknown sentiment 'joy'; use one of anger, anxiety, positive, weak_negative"
    page = html(client.get("/?topic=nosuch&lang=en"))
    assert "unknown topic &#39;nosuch&#39;; use one of outage_report, restoration," in page


@pytest.mark.parametrize(
    "fields",
    [
        {"text": '"停电'}, {"text": "OR 停电"}, {"text": "停电 OR NOT 限电"}, {"text": "停电 OR"}, {"text": "（停电）"},
        {"text": " ".join(["停电"] * 21)}, {"text": "!!!"}, {"text": "停" * 201},
        {"interval": "week"}, {"sort": "random"}, {"platforms": ("twitter",)},
        {"text": "停电", "page": 101, "per_page": 100}, {"text": "停电", "after": 5}, {"rumor_max": 1.5},
        {"emotions": tuple(str(i) for i in range(21))}, {"places": ("x" * 65,)}, {"page": 0}, {"per_page": 101},
    ],
)
def test_every_query_model_error_has_a_chinese_translation(app, fields):
    with pytest.raises(QueryError) as raised:
        SearchQuery(**fields)
    with app.test_request_context("/"):
        zh = i18n.error_message(raised.value)
    assert zh != str(raised.value) and re.search(r"[\u4e00-\u9fff]", zh)


@pytest.mark.parametrize("query, page_error, api_error", [
    ("rumor_min=2", None, "谣言概率必须在 0 到 1 之间"),
    ("rumor_min=80&rumor_max=150", "参数 rumor_max 是百分数，须在 0 到 100 之间", "谣言概率必须在 0 到 1 之间"),
    ("rumor_min=abc", "参数 rumor_min 是百分数", "参数 rumor_min 必须是 0 到 1 之间的数"),
    ("rumor_max=nan", "参数 rumor_max 是百分数", "参数 rumor_max 必须是 0 到 1 之间的数"),
    ("rumor_max=1e-1", "参数 rumor_max 是百分数", "参数 rumor_max 必须是 0 到 1 之间的数"),
    ("rumor_max=%EF%BC%90.5", "参数 rumor_max 是百分数", "参数 rumor_max 必须是 0 到 1 之间的数"),  # full-width 0
    ("rumor_min=" + "0" * 50, "参数 rumor_min 是百分数", "参数 rumor_min 必须是 0 到 1 之间的数"),
])
def test_rumor_range_is_percent_on_the_page_and_a_probability_in_the_api(client, query, page_error, api_error):
    page = client.get("/?" + query)
    assert page.status_code == (400 if page_error else 200)
    if page_error:
        assert page_error in html(page)
    response = client.get("/api/search?" + query)
    assert response.status_code == 400 and api_error in response.get_json()["error"]


def test_rumor_range_in_percent_in_form_and_chips(client):
    page = html(client.get("/?rumor_min=60"))
    assert "共 1 条结果" in page  # w1, 90 %
    assert 'name="rumor_min" value="60" min="0" max="100" step="5"> %' in page
    assert "谣言概率 ≥ 60%" in page


def test_bad_query_error_in_english(client):
    response = client.get("/api/search?since=2024-08-01&until=2024-07-01&lang=en")
    assert response.get_json() == {"error": "the start of the time range is after its end"}
    assert "the start of the time range is after its end" in html(client.get("/?since=2024-08-01&until=2024-07-01"))
    assert html(client.get("/?q=%22停电")).count('a quotation mark (&#34;) is not closed') == 1
    assert client.get("/api/search?sort=newest&rumor_min=abc").get_json() == {
        "error": "rumor_min must be a number such as 0.5"}


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
    page = html(client.get("/?place=%3Cscript%3E&cluster=%22%3E%3Cscript%3E&emotion=%3Cscript%3E&verified=%3Cb%3E"
                           "&interval=%3Cscript%3E&rumor_min=%3Cscript%3E"))
    assert "<script>" not in page and "<b>" not in page and "&lt;script&gt;" in page


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
    for url in ("/?q=停电", "/?q=限电&interval=hour", "/?sort=newest&per_page=5&after=1"):
        page = html(client.get(url))
        assert "style=" not in page and "<style" not in page and "<script" not in page


def test_analyst_corrects_the_topics_of_a_post(client, app):
    post_id = app.ids["g2"]
    page = html(client.get(f"/posts/{post_id}"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert 'value="rationing" checked' in page  # the tagged topics are ticked to start with
    url = f"/posts/{post_id}/corrections"
    assert client.post(url, data={"csrf_token": token, "task": "topics", "label": ["rationing", "nonsense"]}).status_code == 400
    saved = client.post(url, data={"csrf_token": token, "task": "topics", "label": ["safety", "rationing"]})
    assert saved.status_code == 303
    page = html(follow(client, saved.headers["Location"]))
    assert "话题已人工校正" in page and 'value="safety" checked' in page
    store = app.extensions["crisiswatch"].store
    assert store.corrections_of(post_id)["topics"] == "rationing,safety"


def test_hourly_dashboard_series_fill_the_empty_hours_with_zeros(app):
    from desk import dashboard as dashboard_data

    services = app.extensions["crisiswatch"]
    data = dashboard_data.build(services.store, services.index, "", None, None, interval="hour")
    hours = [datetime.strptime(bucket, "%Y-%m-%dT%H") for bucket in data.buckets]
    assert hours[0] == datetime(2024, 7, 29, 8) and hours[-1] == datetime(2024, 8, 2, 23)  # China time
    assert all(later - earlier == timedelta(hours=1) for earlier, later in zip(hours, hours[1:]))
    volume = [sum(counts) for counts in zip(*data.volume.values())]
    assert len(volume) == len(hours) and sum(volume) == data.total and volume.count(0) > 50
    assert all(len(series) == len(hours) for series in data.sentiment.values())
    days = dashboard_data.build(services.store, services.index, "", None, None, interval="day").buckets
    assert days == ["2024-07-29", "2024-07-30", "2024-07-31", "2024-08-01", "2024-08-02"]
    # Where the index may have counted only the busiest buckets, a missing one is not known to be empty.
    busiest = [f"2024-{month:02d}-{day:02d}T{hour:02d}" for month in (7, 8) for day in range(1, 32) for hour in range(24)]
    assert len(busiest) == 1488 and dashboard_data.continuous(busiest[::2], "hour") == busiest[::2]
    assert dashboard_data.continuous(["2024-01-01T00", "2024-12-31T23"], "hour") == ["2024-01-01T00", "2024-12-31T23"]
