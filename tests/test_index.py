"""The embedded index: text, filters, time range, sorting, facets, snippets, exactly once."""

from datetime import datetime

import pytest

from core.schema import CHINA_TZ, Tags, make_post
from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending, rebuild
from indexes.query import QueryError, SearchQuery, parse_time
from indexes.results import search, snippet_html

POSTS = [
    # platform, id, text, time (China), tags (rumor, sentiment, topics) or None
    ("weibo", "w1", "东湖区停电六个小时了，供电公司电话打不通", "2024-07-25 08:00", (0.1, "anger", ["outage_report"])),
    ("weibo", "w2", "网传全城停电三天，赶紧囤水", "2024-07-25 09:00", (0.9, "anxiety", ["rumor_rebuttal", "outage_report"])),
    ("news", "n1", "滨海供电公司：抢修人员已恢复供电8万户", "2024-07-26 10:00", (0.05, "positive", ["restoration"])),
    ("gov", "g1", "辟谣：网传“全城停电三天”不实", "2024-07-26 11:00", (0.2, "weak_negative", ["rumor_rebuttal"])),
    ("tieba", "t1", "<script>alert(1)</script> 停电 \"><img src=x onerror=alert(2)>", "2024-07-27 12:00", None),
]


@pytest.fixture
def indexed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform=p, platform_id=i, text=t, created_at=w) for p, i, t, w, _ in POSTS])
    store.save_tags([
        Tags(n, tags[0], tags[1], 0.8, tags[2], "test") for n, (*_, tags) in enumerate(POSTS, start=1) if tags
    ])
    index = EmbeddedIndex(tmp_path / "index")
    assert index_pending(store, index) == len(POSTS)
    return store, EmbeddedIndex(tmp_path / "index")


def ids(page):
    return [hit.post["platform_id"] for hit in page.hits]


def test_text_search_with_facets_and_days(indexed):
    store, index = indexed
    page = search(store, index, SearchQuery(text="停电", sort="newest"))
    assert ids(page) == ["t1", "g1", "w2", "w1"]
    assert dict(page.facets["platform"]) == {"weibo": 2, "gov": 1, "tieba": 1}
    assert dict(page.facets["rumor"]) == {"likely": 1, "unlikely": 2}
    assert dict(page.facets["topics"])["outage_report"] == 2
    assert page.days == [("2024-07-25", 2), ("2024-07-26", 1), ("2024-07-27", 1)]


def test_all_words_must_match_and_relevance_ranks(indexed):
    store, index = indexed
    assert ids(search(store, index, SearchQuery(text="全城停电 辟谣"))) == ["g1"]
    assert set(ids(search(store, index, SearchQuery(text="全城停电")))) == {"w2", "g1"}


def test_filters_and_time_range(indexed):
    store, index = indexed
    assert ids(search(store, index, SearchQuery(text="停电", rumor=True))) == ["w2"]
    assert ids(search(store, index, SearchQuery(sentiments=("anger",)))) == ["w1"]
    assert set(ids(search(store, index, SearchQuery(topics=("rumor_rebuttal",))))) == {"w2", "g1"}
    assert ids(search(store, index, SearchQuery(platforms=("news", "gov"), sort="newest"))) == ["g1", "n1"]
    window = SearchQuery(since=parse_time("2024-07-26"), until=parse_time("2024-07-26", end_of_day=True))
    assert set(ids(search(store, index, window))) == {"n1", "g1"}
    assert parse_time("2024-07-26T10:00").tzinfo == CHINA_TZ


def test_paging(indexed):
    store, index = indexed
    pages = [ids(search(store, index, SearchQuery(sort="newest", page=n, per_page=2))) for n in (1, 2, 3)]
    assert pages == [["t1", "g1"], ["n1", "w2"], ["w1"]]


def test_snippets_escape_post_text(indexed):
    store, index = indexed
    [hit] = search(store, index, SearchQuery(platforms=("tieba",), text="停电")).hits
    assert "<script>" not in hit.snippet_html and "<img" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html and "<mark>停电</mark>" in hit.snippet_html
    assert snippet_html("a<b>停电</b>", ["<b>"]) == "a<mark>&lt;b&gt;</mark>停电&lt;/b&gt;"


def test_each_post_is_in_the_index_once_after_reindexing(indexed, tmp_path):
    store, index = indexed
    store.save_tags([Tags(1, 0.5, "anxiety", 0.5, [], "test-2")])  # re-tag: post 1 pending again
    assert index_pending(store, EmbeddedIndex(tmp_path / "index")) == 1
    index = EmbeddedIndex(tmp_path / "index")
    assert index.num_docs() == len(POSTS) and index.count_id(1) == 1
    assert ids(search(store, index, SearchQuery(sentiments=("anxiety",), sort="newest"))) == ["w2", "w1"]
    assert rebuild(store, EmbeddedIndex(tmp_path / "index")) == len(POSTS)
    assert EmbeddedIndex(tmp_path / "index").num_docs() == len(POSTS)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"text": "字" * 201}, "longer than"),
        ({"text": "！！！"}, "no searchable word"),
        ({"platforms": ("myspace",)}, "unknown platform"),
        ({"sort": "random"}, "unknown sort"),
        ({"page": 0}, "page must be"),
        ({"since": datetime(2024, 2, 1, tzinfo=CHINA_TZ), "until": datetime(2024, 1, 1, tzinfo=CHINA_TZ)}, "after its end"),
    ],
)
def test_bad_queries_say_what_to_change(fields, message):
    with pytest.raises(QueryError, match=message):
        SearchQuery(**fields)


def test_engine_query_syntax_is_just_text(indexed):
    store, index = indexed
    page = search(store, index, SearchQuery(text='id:1 OR platform:* "停电'))
    assert page.total == 0  # the words are searched as words, never parsed by Tantivy
    with pytest.raises(QueryError):
        parse_time("2024-13-45")
