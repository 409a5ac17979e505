"""Importing real and broken files: counts, duplicates, rejections with reasons."""

import gzip
import json

import pytest

from core.store import Store
from crisiswatch.importer import ImportFailed, detect_encoding, import_files


@pytest.fixture
def sqlite(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_ced_posts_and_their_reposts(sqlite, ced_slice):
    report = import_files(sqlite, [ced_slice])
    assert report.rejected == []
    with gzip.open(ced_slice, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    expected_posts = len(records)
    expected_reposts = len({r["mid"] for rec in records for r in rec["reposts"] if r["text"].strip()})
    assert report.imported == expected_posts + expected_reposts
    first = records[0]
    stored = sqlite.get_post(1)
    assert (stored["platform_id"], stored["text"][:10]) == (first["id"], first["text"][:10])
    assert stored["reposts_count"] == first["reposts_count"]
    replies = sqlite.replies_of("weibo", first["id"], limit=1000)
    assert replies and all(r["kind"] == "repost" for r in replies)
    again = import_files(sqlite, [ced_slice])
    assert (again.imported, again.duplicates) == (0, report.imported + report.duplicates)


def test_a_real_gb18030_day_of_weibo(sqlite, covid_day):
    assert detect_encoding(covid_day) == "gb18030"
    report = import_files(sqlite, [covid_day])
    assert report.imported > 10_000
    assert all("empty text" in r.reason for r in report.rejected)
    texts = [p["text"] for p in sqlite.get_posts(range(1, 200)).values()]
    assert any("武汉" in t for t in texts)
    post = sqlite.get_post(1)
    assert post["created_at"].isoformat().startswith("2020-01-20T16:00")  # the file's day, China time


def test_bad_lines_are_rejected_and_the_rest_imported(sqlite, tmp_path):
    path = tmp_path / "mixed.csv"
    rows = ["userid,text", "1,东湖区停电了", "2,", "3,\"多行\n文本也可以\"", "4,限电通知"]
    data = "\n".join(rows).encode("gb18030") + b"\n5,\xff\xfe bad bytes\n6,\xe5\x81\x9c\xe7\x94\xb5 utf8 in gbk\n"
    path.write_bytes(data)
    report = import_files(sqlite, [path])
    assert report.imported == 4  # rows 1, 3, 4 and the last (valid GB18030, odd text)
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons[3] == "empty text"
    assert "not valid gb18030" in reasons[7]


def test_broken_json_lines(sqlite, tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"id": "a1", "text": "<script>alert(1)</script> 停电", "time": 1721888000}),
                "{not json",
                json.dumps([1, 2]),
                json.dumps({"id": "a2", "text": ""}),
                json.dumps({"id": "a3", "text": "ok", "reposts_count": "many"}),
                json.dumps({"id": "a4", "text": "😀 emoji 与中文", "user": {"verified": True}}),
                '{"id": "a5", "text": "半个表情\\ud83d停电", "user": {"screen_name": "\\udc00"}}',
            ]
        ),
        encoding="utf-8-sig",
    )
    report = import_files(sqlite, [path])
    assert report.imported == 3
    assert [r.line for r in report.rejected] == [2, 3, 4, 5]
    assert "not JSON" in report.rejected[0].reason
    assert sqlite.get_post(1)["text"].startswith("<script>")  # stored as is; escaped on output
    assert sqlite.get_post(3)["text"] == "半个表情\ufffd停电"  # a lone surrogate, replaced


def test_a_file_in_an_unknown_encoding_is_refused_clearly(sqlite, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"userid,text\n" + b"1,\x81\x30\x81\xff\xff\xff\n" * 10)
    with pytest.raises(ImportFailed, match="neither UTF-8 nor GB18030"):
        import_files(sqlite, [path])


def test_rows_without_text_are_rejected_as_a_whole_file_with_their_count(sqlite, tmp_path):
    path = tmp_path / "2020-03-21.csv"  # the corpus has files of user ids alone
    path.write_text(",userid\n0,3803404807\n1,7037850785\n2,7360695198\n", encoding="gb18030")
    report = import_files(sqlite, [path])
    assert report.imported == 0 and report.rejected_rows == 3
    [rejection] = report.rejected
    assert "no 'text' column" in rejection.reason and "all 3 rows" in rejection.reason


def test_equal_texts_without_an_author_are_separate_posts(sqlite, tmp_path):
    path = tmp_path / "2020-04-01.csv"
    path.write_text("text\n#美国拒绝进口中国KN95口罩#\n#美国拒绝进口中国KN95口罩#\n", encoding="gb18030")
    assert import_files(sqlite, [path]).imported == 2
    assert import_files(sqlite, [path]).duplicates == 2
