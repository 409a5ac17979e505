"""One contract for every index backend: the same data gives the same answers.

Runs against the embedded Tantivy index, the noida-db Elasticsearch emulator (started
here on loopback; an emulator, not a real cluster) and, when ES_URL is set, a real
Elasticsearch cluster. Expected answers are written out from the data below.
"""

import gzip
import inspect
import itertools
import shutil
import threading
from datetime import datetime

import pytest
import tantivy

from core import segment
from core.schema import CHINA_TZ, Tags, make_post
from core.store import Store
from crisiswatch.importer import import_files
from indexes.analysis import normalise
from indexes.backends import BACKENDS, IndexBackend
from indexes.elastic import TEMPLATE, ElasticIndex
from indexes import embedded
from indexes.embedded import EmbeddedIndex
from indexes.errors import IndexOutdated
from indexes.indexer import index_pending, rebuild
from indexes.query import FACETS, MAX_RELEVANCE_DEPTH, QueryError, SearchQuery, parse_text, parse_time
from indexes.results import search, snippet_html
from tests.conftest import DATA, need

# platform, id, text, time (China), verified, engagement,
# tags: (rumor, sentiment, topics, emotion, places, polarity) or None
POSTS = [
    ("weibo", "w1", "东湖区停电六个小时了，供电公司电话打不通", "2024-07-25 08:10", True, 30,
     (0.1, "anger", ["outage_report"], "anger", ["420000", "420100"], "negative")),
    ("weibo", "w2", "网传全城停电三天，赶紧囤水", "2024-07-25 09:20", False, 500,
     (0.9, "anxiety", ["rumor_rebuttal", "outage_report"], "fear", ["420100"], "negative")),
    ("news", "n1", "滨海供电公司：抢修人员已恢复供电8万户", "2024-07-26 10:00", None, 5,
     (0.05, "positive", ["restoration"], None, [], "positive")),
    ("gov", "g1", "辟谣：网传“全城停电三天”不实", "2024-07-26 11:30", True, 80,
     (0.2, "weak_negative", ["rumor_rebuttal"], None, ["420100"], "neutral")),
    ("tieba", "t1", "<script>alert(1)</script> 停电 \"><img src=x onerror=alert(2)>", "2024-07-27 12:00", None, 0, None),
    ("weibo", "w3", "ＫＮ９５口罩到了，电梯还是停了", "2024-07-27 12:40", False, 7,
     (0.3, "weak_negative", [], "sadness", [], None)),
    ("weibo", "w4", "网传全城停电三天，赶紧囤水", "2024-07-27 13:00", False, 2,
     (0.8, "anxiety", ["rumor_rebuttal", "outage_report"], "fear", [], "negative")),
]


@pytest.fixture
def indexed(tmp_path, make_index):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([
        make_post(platform=p, platform_id=i, text=t, created_at=w, author_verified=v, likes_count=e)
        for p, i, t, w, v, e, _ in POSTS
    ])
    store.save_tags([Tags(n, r, s, 0.8, topics, "test", emotion=emo, places=places, polarity=polarity)
                     for n, (*_, tags) in enumerate(POSTS, start=1) if tags
                     for r, s, topics, emo, places, polarity in [tags]])
    assert index_pending(store, make_index()) == len(POSTS)
    return store, make_index


def ids(store, index, **query):
    return [hit.post["platform_id"] for hit in search(store, index, SearchQuery(**query)).hits]


def test_text_facets_and_day_histogram(indexed):
    store, make_index = indexed
    page = search(store, make_index(), SearchQuery(text="停电", sort="newest"))
    assert [h.post["platform_id"] for h in page.hits] == ["w4", "t1", "g1", "w2", "w1"]
    assert page.total == 5
    assert dict(page.facets["platform"]) == {"weibo": 3, "gov": 1, "tieba": 1}
    assert dict(page.facets["rumor"]) == {"likely": 2, "unlikely": 2}
    assert dict(page.facets["verified"]) == {"yes": 2, "no": 2}
    assert dict(page.facets["emotion"]) == {"fear": 2, "anger": 1}
    assert dict(page.facets["polarity"]) == {"negative": 3, "neutral": 1}  # w3, tagged without one, has none
    assert dict(page.facets["places"]) == {"420100": 3, "420000": 1}
    assert dict(page.facets["topics"]) == {"outage_report": 3, "rumor_rebuttal": 3}
    assert page.facets["cluster"][0][1] == 2  # the copied rumor: one cluster of two posts
    assert page.histogram == [("2024-07-25", 2), ("2024-07-26", 1), ("2024-07-27", 2)]


def test_hour_histogram_in_china_time(indexed):
    store, make_index = indexed
    page = search(store, make_index(), SearchQuery(platforms=("weibo",), interval="hour"))
    assert page.histogram == [("2024-07-25T08", 1), ("2024-07-25T09", 1), ("2024-07-27T12", 1), ("2024-07-27T13", 1)]


def test_minute_histogram_in_china_time(indexed):
    """The finest buckets, for an incident's first hours (desk.dashboard.SHORT_WINDOW)."""
    store, make_index = indexed
    page = search(store, make_index(), SearchQuery(platforms=("weibo",), interval="minute"))
    assert page.histogram == [("2024-07-25T08:10", 1), ("2024-07-25T09:20", 1), ("2024-07-27T12:40", 1),
                              ("2024-07-27T13:00", 1)]
    assert search(store, make_index(), SearchQuery(text="停电", interval="minute")).histogram == [
        ("2024-07-25T08:10", 1), ("2024-07-25T09:20", 1), ("2024-07-26T11:30", 1), ("2024-07-27T12:00", 1),
        ("2024-07-27T13:00", 1)]


def test_and_or_not_and_phrases(indexed):
    store, make_index = indexed
    index = make_index()
    assert set(ids(store, index, text="全城停电 辟谣")) == {"g1"}
    assert set(ids(store, index, text="全城停电 AND 辟谣")) == {"g1"}
    assert set(ids(store, index, text="辟谣 OR 抢修")) == {"g1", "n1"}
    assert set(ids(store, index, text="停电 NOT 网传")) == {"w1", "t1"}
    assert set(ids(store, index, text="停电 -网传 -东湖区")) == {"t1"}
    assert set(ids(store, index, text='"停电三天"')) == {"w2", "g1", "w4"}
    assert set(ids(store, index, text='"三天停电"')) == set()
    assert set(ids(store, index, text='-"供电"')) == {"w2", "g1", "t1", "w3", "w4"}


def test_matching_is_by_substring(indexed):
    store, make_index = indexed
    index = make_index()
    assert set(ids(store, index, text="电")) == {"w1", "w2", "n1", "g1", "t1", "w3", "w4"}  # one character
    assert set(ids(store, index, text="湖区停")) == {"w1"}  # not a word, still found
    assert set(ids(store, index, text="kn95")) == {"w3"}  # full-width in the post
    assert set(ids(store, index, text="ＫＮ９５口罩")) == {"w3"}
    assert set(ids(store, index, text="script")) == {"t1"}


def test_filters(indexed):
    store, make_index = indexed
    index = make_index()
    assert ids(store, index, text="停电", rumor=True, sort="newest") == ["w4", "w2"]
    assert ids(store, index, sentiments=("anger",)) == ["w1"]
    assert set(ids(store, index, polarities=("negative",))) == {"w1", "w2", "w4"}
    assert set(ids(store, index, polarities=("positive", "neutral"))) == {"n1", "g1"}
    assert set(ids(store, index, emotions=("fear",))) == {"w2", "w4"}
    assert set(ids(store, index, places=("420100",))) == {"w1", "w2", "g1"}
    assert set(ids(store, index, topics=("rumor_rebuttal",))) == {"w2", "g1", "w4"}
    assert ids(store, index, platforms=("news", "gov"), sort="newest") == ["g1", "n1"]
    assert set(ids(store, index, verified=True)) == {"w1", "g1"}
    assert set(ids(store, index, verified=False)) == {"w2", "w3", "w4"}
    assert set(ids(store, index, rumor_min=0.25, rumor_max=0.85)) == {"w3", "w4"}
    cluster = store.get_post(2)["content_hash"]
    assert set(ids(store, index, clusters=(cluster,))) == {"w2", "w4"}
    window = dict(since=parse_time("2024-07-26"), until=parse_time("2024-07-26", end_of_day=True))
    assert set(ids(store, index, **window)) == {"n1", "g1"}
    assert ids(store, index, since=datetime(2024, 7, 27, 12, 30, tzinfo=CHINA_TZ), sort="newest") == ["w4", "w3"]


def test_count_is_the_total_of_a_search(indexed):
    """``count`` (what alert rules ask, after every index batch) answers a search's total."""
    store, make_index = indexed
    index = make_index()
    for query in (SearchQuery(), SearchQuery(text="停电 -辟谣"), SearchQuery(text='"全城停电" OR 口罩'),
                  SearchQuery(sentiments=("anxiety", "anger")), SearchQuery(text="电", platforms=("weibo",)),
                  SearchQuery(since=parse_time("2024-07-26"), until=parse_time("2024-07-27", end_of_day=True)),
                  SearchQuery(text="不存在的词")):
        assert index.count(query) == search(store, index, query).total, query.text
    assert index.count(SearchQuery(text="停电", rumor=True)) == 2


def test_sorts(indexed):
    store, make_index = indexed
    index = make_index()
    assert ids(store, index, sort="engagement") == ["w2", "g1", "w1", "w3", "n1", "w4", "t1"]
    assert ids(store, index, sort="newest") == ["w4", "w3", "t1", "g1", "n1", "w2", "w1"]
    ranked = search(store, index, SearchQuery(text="停电三天"))
    assert {h.post["platform_id"] for h in ranked.hits} == {"w2", "g1", "w4"}
    assert all(a.score >= b.score > 0 for a, b in zip(ranked.hits, ranked.hits[1:]))


def test_deep_paging_by_cursor_and_by_offset(indexed):
    store, make_index = indexed
    index = make_index()
    for sort in ("newest", "engagement"):
        seen, after = [], None
        while True:
            page = search(store, index, SearchQuery(sort=sort, per_page=2, after=after))
            assert page.total == len(POSTS)
            seen += [h.post["platform_id"] for h in page.hits]
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == ids(store, index, sort=sort)
    pages = [ids(store, index, text="电", page=n, per_page=3) for n in (1, 2, 3)]
    assert sorted(sum(pages, [])) == sorted(ids(store, index, text="电"))


def test_ids_list_every_page_in_order_a_chunk_at_a_time(indexed, monkeypatch):
    """What an export reads: the ids of every page, whatever page the query names."""
    store, make_index = indexed
    index = make_index()
    monkeypatch.setattr(f"indexes.{'embedded' if index.backend == 'embedded' else 'elastic'}.IDS_CHUNK", 2)
    platform_ids = {post["id"]: post["platform_id"] for post in store.get_posts(range(1, len(POSTS) + 1)).values()}
    for sort in ("newest", "engagement"):
        exported = [platform_ids[i] for i in index.ids(SearchQuery(sort=sort, per_page=1, after=2**40), len(POSTS))]
        assert exported == ids(store, index, sort=sort)
        assert [platform_ids[i] for i in index.ids(SearchQuery(sort=sort), 3)] == exported[:3]
    ranked = [platform_ids[i] for i in index.ids(SearchQuery(text="电", page=2, per_page=1), 100)]
    assert sorted(ranked) == sorted(ids(store, index, text="电"))
    assert ranked[:2] == ids(store, index, text="电", per_page=2)
    assert list(index.ids(SearchQuery(text="不存在的词"), 10)) == []


def test_each_post_is_indexed_once_and_rebuild_swaps_versions(indexed):
    store, make_index = indexed
    store.save_tags([Tags(1, 0.5, "anxiety", 0.5, [], "test-2")])  # re-tag: post 1 pending again
    assert index_pending(store, make_index()) == 1
    index = make_index()
    assert index.num_docs() == len(POSTS) and index.count_id(1) == 1
    assert ids(store, index, sentiments=("anxiety",), sort="newest") == ["w4", "w2", "w1"]
    before = ids(store, index, text="停电", sort="newest")
    assert rebuild(store, make_index(), batch_size=2) == len(POSTS)
    index = make_index()
    assert index.num_docs() == len(POSTS) and index.count_id(1) == 1
    assert ids(store, index, text="停电", sort="newest") == before


def test_a_rebuild_that_fails_leaves_the_current_index_and_no_new_version(indexed):
    store, make_index = indexed
    before = ids(store, make_index(), text="停电", sort="newest")

    class Stopped(Exception):
        pass

    class StopAfterOneBatch:  # as a full disk stops a rebuild midway
        def update(self, _done):
            raise Stopped

    with pytest.raises(Stopped):
        rebuild(store, make_index(), batch_size=2, progress=StopAfterOneBatch())
    index = make_index()
    assert index.num_docs() == len(POSTS) and ids(store, index, text="停电", sort="newest") == before
    assert rebuild(store, make_index(), batch_size=2) == len(POSTS)  # and the next one starts clean
    assert make_index().num_docs() == len(POSTS)


def test_snippets_escape_post_text(indexed):
    store, make_index = indexed
    [hit] = search(store, make_index(), SearchQuery(platforms=("tieba",), text="停电")).hits
    assert "<script>" not in hit.snippet_html and "<img" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html and "<mark>停电</mark>" in hit.snippet_html
    assert snippet_html("a<b>停电</b>", ["<b>"]) == "a<mark>&lt;b&gt;</mark>停电&lt;/b&gt;"


def test_engine_syntax_is_only_text(indexed):
    store, make_index = indexed
    assert search(store, make_index(), SearchQuery(text="id:1 platform:* text:停电~2")).total == 0


def test_recall_on_real_posts_equals_a_substring_scan(tmp_path, make_index):
    """Every post whose text holds the query word is found, and no other."""
    path = need(DATA / "weibo_covid_2020" / "2020-02-01.csv.gz")
    sample = tmp_path / "2020-02-01.csv"
    with gzip.open(path, "rt", encoding="gb18030") as src:
        sample.write_text("".join(itertools.islice(src, 1500)), encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    import_files(store, [sample])
    index_pending(store, make_index())
    index = make_index()
    texts = [normalise(p["text"]) for p in store.get_posts(range(1, 2000)).values()]
    for word in ["医院", "新冠", "武汉", "口罩", "肺炎", "疫情", "医生", "病毒", "加油", "湖北", "钟南山", "双黄连", "武汉加油"]:
        exact = sum(word in t for t in texts)
        assert search(store, index, SearchQuery(text=f'"{word}"')).total == exact, word
        words = segment.query_terms(word)  # unquoted: each of its words, anywhere
        assert search(store, index, SearchQuery(text=word)).total == sum(all(w in t for w in words) for t in texts)


def test_facets_use_keyword_fields():
    properties = TEMPLATE["template"]["mappings"]["properties"]
    assert all(properties[name]["type"] == "keyword" for name in [*FACETS, "day", "hour", "minute"])
    assert properties["text"] == {"type": "text", "analyzer": "whitespace"}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"text": "字" * 201}, "longer than"),
        ({"text": "！！！"}, "no searchable word"),
        ({"text": '"全城停电'}, "not closed"),
        ({"text": "停电 OR"}, "ends with OR"),
        ({"text": "OR 停电"}, "OR needs a word"),
        ({"text": "停电 OR NOT 限电"}, "NOT cannot be combined"),
        ({"text": "(停电)"}, "brackets"),
        ({"platforms": ("myspace",)}, "unknown platform"),
        ({"sort": "random"}, "unknown sort"),
        ({"interval": "week"}, "unknown interval"),
        ({"page": 0}, "page must be"),
        ({"text": "停电", "per_page": 100, "page": MAX_RELEVANCE_DEPTH // 100 + 1}, "sort by newest"),
        ({"text": "停电", "after": 5}, "cursor goes with"),
        ({"rumor_min": 1.5}, "between 0 and 1"),
        ({"since": datetime(2024, 2, 1, tzinfo=CHINA_TZ), "until": datetime(2024, 1, 1, tzinfo=CHINA_TZ)}, "after its end"),
    ],
)
def test_bad_queries_say_what_to_change(fields, message):
    with pytest.raises(QueryError, match=message):
        SearchQuery(**fields)


def test_query_parsing():
    parsed = parse_text('武汉疫情 "全城停电" 辟谣 OR 澄清 -谣言')
    assert [[a.substrings for a in g] for g in parsed.all_of] == [[("武汉", "疫情")], [("全城停电",)], [("辟谣",), ("澄清",)]]
    assert [a.substrings for a in parsed.none_of] == [("谣言",)]
    with pytest.raises(QueryError):
        parse_time("2024-13-45")


def test_no_hits_still_lists_every_facet(indexed):
    store, make_index = indexed
    page = search(store, make_index(), SearchQuery(text="地震"))
    assert page.total == 0 and page.hits == [] and page.histogram == []
    assert page.facets == {name: [] for name in FACETS} and page.next_after is None


def test_a_post_joins_a_cluster_when_its_first_copy_arrives(indexed):
    store, make_index = indexed
    n1 = store.get_post(3)
    assert search(store, make_index(), SearchQuery(clusters=(n1["content_hash"],))).total == 0  # no copies yet
    store.upsert_posts([make_post(platform="weibo", platform_id="copy", text=n1["text"], created_at="2024-07-28 09:00")])
    assert index_pending(store, make_index()) == 2  # the copy, and the original re-indexed into the cluster
    assert set(ids(store, make_index(), clusters=(n1["content_hash"],))) == {"n1", "copy"}


def test_the_most_copied_clusters_are_counted_exactly_as_clusters_grow(indexed):
    """Eleven clusters of 50 copies or more: counted from the large clusters first on the
    embedded backend, which is exact only if a cluster that grows past 50 is re-indexed."""
    store, make_index = indexed

    def copies(n: int, count: int, first: int = 0) -> list:
        text = "停电通知：" + "".join(chr(0x4E00 + (n * 7919 + i * 104729) % 20000) for i in range(40))  # unlike each other
        return [make_post(platform="weibo", platform_id=f"c{n}-{i}", text=text, created_at="2024-07-28 09:00")
                for i in range(first, first + count)]

    store.upsert_posts(copies(0, 49) + [post for n in range(1, 11) for post in copies(n, 50 + n)])
    index_pending(store, make_index())
    store.upsert_posts(copies(0, 12, first=49))  # 49 -> 61 copies: crosses 50
    index_pending(store, make_index())
    listed = search(store, make_index(), SearchQuery()).facets["cluster"]
    assert [count for _, count in listed] == [61, 60, 59, 58, 57, 56, 55, 54, 53, 52]
    assert listed[0][0] == store.get_post(len(POSTS) + 1)["cluster"]


def test_ties_for_the_last_place_listed_go_to_the_smaller_value(indexed):
    """Twelve clusters of two copies and sixty places of one post each: both backends
    list the same ten clusters and fifty places, the ones first by name (Elasticsearch's
    order), whichever were indexed first."""
    store, make_index = indexed
    texts = ["台区检修：" + "".join(chr(0x4E00 + (n * 7919 + i * 104729) % 20000) for i in range(40)) for n in range(12)]
    store.upsert_posts([make_post(platform="weibo", platform_id=f"tie{n}-{i}", text=text, created_at="2024-07-28 09:00")
                        for n, text in reversed(list(enumerate(texts))) for i in range(2)])
    first = len(POSTS) + 1
    codes = [f"{510000 + 97 * (59 - n)}" for n in range(60)]  # stored in falling order
    store.save_tags([Tags(first + n, 0.1, "positive", 0.9, [], "test", places=[code]) for n, code in enumerate(codes[:24])])
    store.upsert_posts([make_post(platform="tieba", platform_id=f"place{n}", text=f"台区检修 第{n}次", created_at="2024-07-28 10:00")
                        for n in range(36)])
    store.save_tags([Tags(first + 24 + n, 0.1, "positive", 0.9, [], "test", places=[code])
                     for n, code in enumerate(codes[24:])])
    index_pending(store, make_index())
    page = search(store, make_index(), SearchQuery(text="台区检修"))
    clusters = sorted({store.get_post(first + 2 * n)["cluster"] for n in range(12)})
    assert page.facets["cluster"] == [(cluster, 2) for cluster in clusters[:10]]
    assert page.facets["places"] == [(code, 1) for code in sorted(codes)[:50]]


def test_the_places_facet_of_a_query_for_all_places_lists_every_place(indexed):
    """The map's search (``all_places``) lists every place of its posts, however many; the
    search page's lists the fifty with most posts."""
    store, make_index = indexed
    codes = [f"{110000 + 10000 * n}" for n in range(31)]
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{n}", text=f"停电 第{n}次", created_at="2024-07-28 10:00")
                        for n in range(len(codes))])
    store.save_tags([Tags(len(POSTS) + 1 + n, 0.1, "positive", 0.9, [], "test", places=[code, f"{int(code) + 100}",
                                                                                           f"{int(code) + 101}"])
                     for n, code in enumerate(codes)])
    index_pending(store, make_index())
    every = {(code, 1) for code in codes} | {(f"{int(code) + d}", 1) for code in codes for d in (100, 101)}
    assert set(search(store, make_index(), SearchQuery(text="停电 第", all_places=True)).facets["places"]) == every
    assert len(search(store, make_index(), SearchQuery(text="停电 第")).facets["places"]) == 50


def test_an_elasticsearch_index_of_older_fields_asks_for_a_rebuild(indexed):
    """Mappings are strict: an index made before a field existed (here: polarity) would
    refuse every document that has it, so it is reported as outdated, as an embedded index
    of an older schema is, and a rebuild makes a new version with every field."""
    store, make_index = indexed
    if not make_index().backend == "elasticsearch":
        pytest.skip("the embedded index's schema check is tested in test_index_cli")
    old = make_index()
    old.delete_all()
    properties = {k: v for k, v in TEMPLATE["template"]["mappings"]["properties"].items() if k != "polarity"}
    old.client.indices.create(index=f"{old.alias}-v1", aliases={old.alias: {}},
                              mappings={"dynamic": "strict", "properties": properties})
    with pytest.raises(IndexOutdated, match="no field polarity.*crisiswatch index --rebuild"):
        make_index().num_docs()
    assert rebuild(store, make_index()) == len(POSTS)
    assert set(ids(store, make_index(), polarities=("negative",))) == {"w1", "w2", "w4"}


def test_an_index_made_before_the_minute_field_is_rebuilt_with_it(indexed, monkeypatch):
    """An index of either engine made before posts had their minute is outdated (the index
    stage then rebuilds it, crisiswatch.stages.index), and the rebuilt one counts by minute."""
    store, make_index = indexed
    old = make_index()
    if old.backend == "elasticsearch":
        old.delete_all()
        properties = {k: v for k, v in TEMPLATE["template"]["mappings"]["properties"].items() if k != "minute"}
        old.client.indices.create(index=f"{old.alias}-v1", aliases={old.alias: {}},
                                  mappings={"dynamic": "strict", "properties": properties})
    else:
        monkeypatch.setattr(embedded, "KEYWORDS", tuple(name for name in embedded.KEYWORDS if name != "minute"))
        older = embedded._schema()
        monkeypatch.undo()
        shutil.rmtree(old.root)
        (old.root / "v1").mkdir(parents=True)
        (old.root / "current").write_text("v1")
        tantivy.Index(older, path=str(old.root / "v1"))
    with pytest.raises(IndexOutdated, match="crisiswatch index --rebuild"):
        make_index().num_docs()
    assert rebuild(store, make_index()) == len(POSTS)
    page = search(store, make_index(), SearchQuery(platforms=("news",), interval="minute"))
    assert page.histogram == [("2024-07-26T10:00", 1)]


# -- the contract as code: indexes.backends.IndexBackend ------------------------------

ONE_ENGINE_ONLY = {"delete_all"}  # ElasticIndex: drops the test indexes and the template


@pytest.mark.parametrize("engine", [EmbeddedIndex, ElasticIndex])
def test_each_engine_has_the_protocols_methods_and_no_other(engine):
    """What the code calls on an index is named in IndexBackend, and each engine has it with
    the same parameters: a method added to, or changed on, one engine alone fails here."""
    named = {name for name in vars(IndexBackend) if not name.startswith("_")}
    public = {name for name, value in vars(engine).items() if callable(value) and not name.startswith("_")}
    assert public - ONE_ENGINE_ONLY == named
    for name in named:
        wanted, found = inspect.signature(getattr(IndexBackend, name)), inspect.signature(getattr(engine, name))
        params = list(found.parameters.values())
        assert params[: len(wanted.parameters)] == list(wanted.parameters.values()), name
        assert all(p.default is not p.empty for p in params[len(wanted.parameters):]), name
        assert found.return_annotation == wanted.return_annotation, name
    assert set(IndexBackend.__annotations__) == {"backend"} and engine.backend in BACKENDS


def test_a_fresh_index_opened_by_many_at_once_makes_its_pointer_once(tmp_path):
    """A fresh home's first minute: the scheduler's jobs and the UI each open the index; a
    shared temporary file for its pointer made all but the first fail (FileNotFoundError)."""
    failed = []
    for round_ in range(20):
        root = tmp_path / f"index-{round_}"
        root.mkdir()
        readers = [EmbeddedIndex(root) for _ in range(6)]
        ready = threading.Barrier(len(readers))

        def open_it(reader):
            ready.wait()
            try:
                reader.count(SearchQuery())
            except OSError as err:
                failed.append(err)

        threads = [threading.Thread(target=open_it, args=(reader,)) for reader in readers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert (root / "current").read_text() == "v1" and [path.name for path in root.glob("*.tmp")] == []
    assert failed == []
