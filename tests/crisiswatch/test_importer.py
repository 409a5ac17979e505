"""Importing real and broken files: counts, duplicates, rejections with reasons."""

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from core.store import Store
from crisiswatch.importer import ImportFailed, detect_encoding, import_files
from tests.conftest import cli


@pytest.fixture
def sqlite(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_ced_posts_and_their_reposts(sqlite, ced_slice):
    report = import_files(sqlite, [ced_slice])
    assert report.rejected == []
    with gzip.open(ced_slice, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    expected_posts = len(records)
    expected_reposts = len({mid for rec in records for mid in chains_with_words(rec["reposts"])})
    assert report.imported == expected_posts + expected_reposts
    first = records[0]
    stored = sqlite.get_post(1)
    assert (stored["platform_id"], stored["text"][:10]) == (first["id"], first["text"][:10])
    assert stored["reposts_count"] == first["reposts_count"]
    replies = sqlite.replies_of("weibo", first["id"], limit=1000)
    assert replies and all(r["kind"] == "repost" for r in replies)
    again = import_files(sqlite, [ced_slice])
    assert (again.imported, again.duplicates) == (0, report.imported + report.duplicates)


def chains_with_words(reposts: list[dict]) -> set[str]:
    """The reposts with words, and the empty ones they reposted, up their chains of parents."""
    by_mid = {r["mid"]: r for r in reposts}
    kept = set()
    for mid in [r["mid"] for r in reposts if r["text"].strip()]:
        while mid in by_mid and mid not in kept:
            kept.add(mid)
            mid = by_mid[mid]["parent"]
    return kept


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
    assert report.imported == 4  # rows 1, 3, 4 and the last (UTF-8 in a GB18030 file)
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons[3] == "empty text"
    assert "not valid UTF-8 or GB18030" in reasons[7]
    assert sqlite.get_post(4)["text"] == "停电 utf8 in gbk"


def test_an_unclosed_quote_costs_its_line_only(sqlite, tmp_path):
    path = tmp_path / "quotes.csv"
    good = [f"{n},第{n}条 停电" for n in range(2, 1000)]
    path.write_text("\n".join(["userid,text", '1,"停电了', *good[:500], '9001,"跨行的\n引号"', '9002,"停电"是谣言',
                               '9003,"开了引号', "9004,又在下一行关上\"了吗", *good[500:]]) + "\n", encoding="utf-8")
    report = import_files(sqlite, [path])
    assert [(r.line, "not closed" in r.reason) for r in report.rejected] == [(2, True), (506, True)]
    assert report.imported == len(good) + 3
    texts = {p["platform_id"]: p["text"] for p in sqlite.get_posts(range(1, 2000)).values()}
    assert "跨行的\n引号" in texts.values() and "停电是谣言" in texts.values()
    assert "又在下一行关上\"了吗" in texts.values() and "第999条 停电" in texts.values()


def test_a_file_that_mixes_utf8_and_gb18030_reads_every_line(sqlite, tmp_path):
    texts = [f"第{n}条：东湖区停电，何时恢复？" for n in range(40)]
    lines = [f"{n},{text}".encode("gb18030" if n % 10 else "utf-8") for n, text in enumerate(texts)]
    mostly_gb = tmp_path / "a.csv"
    mostly_gb.write_bytes(b"userid,text\n" + b"\n".join(lines) + b"\n")
    lines = [f"{n},{text}".encode("utf-8" if n % 10 else "gb18030") for n, text in enumerate(texts, start=100)]
    mostly_utf8 = tmp_path / "b.csv"
    mostly_utf8.write_bytes(b"userid,text\n" + b"\n".join(lines) + b"\n")
    report = import_files(sqlite, [mostly_gb, mostly_utf8])
    assert report.rejected == [] and report.imported == 80
    assert sorted(p["text"] for p in sqlite.get_posts(range(1, 100)).values()) == sorted(texts * 2)


def test_a_rejected_time_is_shown_in_china_time(sqlite, tmp_path):
    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps({"id": "t1", "text": "停电", "time": "2099-01-01 00:30:00"}) + "\n", encoding="utf-8")
    [rejection] = import_files(sqlite, [path]).rejected
    assert "2099-01-01T00:30:00+08:00" in rejection.reason


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


def test_a_file_in_an_unknown_encoding_is_skipped_clearly_and_the_next_one_read(sqlite, tmp_path):
    path = tmp_path / "a-latin.csv"
    path.write_bytes(b"userid,text\n" + b"1,\x81\x30\x81\xff\xff\xff\n" * 10)
    with pytest.raises(ImportFailed, match="neither UTF-8 nor GB18030"):
        detect_encoding(path)
    binary = tmp_path / "b-binary.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    good = tmp_path / "c-good.csv"
    good.write_text("userid,text\n7,琼山区停电两天了\n", encoding="gb18030")  # a header and one row
    report = import_files(sqlite, [path, binary, good])
    assert report.imported == 1 and sqlite.get_post(1)["text"] == "琼山区停电两天了"
    skipped = {Path(r.file).name: r for r in report.rejected}
    assert "neither UTF-8 nor GB18030" in skipped["a-latin.csv"].reason and skipped["a-latin.csv"].rows == 11
    assert "not a text file" in skipped["b-binary.csv"].reason and len(report.rejected) == 2


def test_one_bad_value_costs_its_line_only(sqlite, tmp_path):
    path = tmp_path / "odd.jsonl"
    good = [json.dumps({"id": f"g{n}", "text": f"第{n}条 停电"}) for n in range(3)]
    bad = ['{"id": "b1", "text": "x", "time": NaN}', '{"id": "b2", "text": "x", "time": 1e300}',
           '{"id": "b3", "text": "x", "time": [1]}', '{"id": "b4", "text": "x", "likes": 1e400}',
           '{"id": "b5", "text": "x", "n": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000,
           '{"id": "b6", "text": ["a", "b"]}', '{"id": {"a": 1}, "text": "x"}',
           '{"id": "b7", "text": "x", "time": "2099-01-01 00:00:00"}']
    path.write_text("\n".join([good[0], *bad, good[1], '{"id": "b8", "text": "x", "reposts": 5}', good[2]]),
                    encoding="utf-8")
    report = import_files(sqlite, [path])
    assert report.imported == 4  # the three good ones, and b8 without its reposts
    assert [r.line for r in report.rejected] == list(range(2, 2 + len(bad))) + [12]
    assert "out of range" in report.rejected[-2].reason and "reposts must be a list" in report.rejected[-1].reason


def test_a_cut_gzip_file_gives_what_it_holds_and_the_next_file_is_read(sqlite, tmp_path):
    rows = "".join(f"{n},第{n}条：东湖区停电，何时恢复？\n" for n in range(3000))
    whole = gzip.compress(("userid,text\n" + rows).encode("gb18030"))
    cut = tmp_path / "a-2020-01-21.csv.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    after = tmp_path / "b.csv"
    after.write_text("userid,text\n1,下一个文件\n", encoding="utf-8")
    report = import_files(sqlite, [cut, after])
    [ended] = report.rejected
    assert "ends early or is corrupt" in ended.reason and Path(ended.file).name == cut.name
    assert 1000 < report.imported < 3001 and report.imported == ended.line - 1  # every row before the cut, + b.csv


def test_the_encoding_is_found_past_a_first_line_longer_than_the_sample(tmp_path):
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "停电" * 40_000}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert detect_encoding(path) == "utf-8-sig"


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


def test_weibo_api_times_and_ced_reposts_without_a_year(sqlite, tmp_path):
    path = tmp_path / "ced.jsonl"  # as 71 posts of the CED file give them
    path.write_text(json.dumps({"id": "p1", "text": "网传停电三天", "time": "Sat Dec 29 12:40:09 +0800 2012",
                                "reposts": [{"mid": "r1", "text": "求证", "date": "12月29日 13:05"},
                                            {"mid": "r2", "text": "谣言", "date": "01月02日 08:00"}]},
                               ensure_ascii=False), encoding="utf-8")
    report = import_files(sqlite, [path])
    assert report.imported == 3 and report.rejected == []
    times = {sqlite.get_post(n)["platform_id"]: sqlite.get_post(n)["created_at"] for n in (1, 2, 3)}
    assert times["p1"] == datetime(2012, 12, 29, 4, 40, 9, tzinfo=timezone.utc)
    assert times["r1"] == datetime(2012, 12, 29, 5, 5, tzinfo=timezone.utc)
    assert times["r2"] == datetime(2013, 1, 2, 0, 0, tzinfo=timezone.utc)  # after the post: the next year


def test_what_a_folder_holds_besides_importable_files_is_named_as_skipped(home, tmp_path):
    folder = tmp_path / "mixed"
    (folder / "inner").mkdir(parents=True)
    (folder / "posts.csv").write_text("userid,text\n1,停电了\n", encoding="utf-8")
    (folder / "readme.txt").write_text("notes", encoding="utf-8")
    (folder / "inner" / "more.csv").write_text("userid,text\n2,又停电了\n", encoding="utf-8")
    result = cli("import", str(folder), home=home)
    assert "1 files: imported 1 posts" in result.stdout
    assert f"skipped {folder / 'inner'}: a folder inside the folder is not read: name it to import it" in result.stderr
    assert f"skipped {folder / 'readme.txt'}: not a .jsonl, .json, .ndjson, .csv or .tsv file" in result.stderr


def test_a_file_whose_lines_end_with_cr_alone_is_read_line_by_line(sqlite, tmp_path):
    mac = tmp_path / "mac.csv"  # Excel for Mac's CSV, in GB18030
    mac.write_bytes("userid,text\r1,停电了\r2,\"引号里\r换行\"\r3,\"没有结束\r4,来电了\r".encode("gb18030"))
    report = import_files(sqlite, [mac])
    assert report.imported == 3 and [str(r).split(": ")[0] for r in report.rejected] == [f"{mac}:5"]
    assert sorted(sqlite.all_texts()) == ["停电了", "引号里\n换行", "来电了"]


def test_a_control_character_in_a_json_string_is_named_once(sqlite, tmp_path):
    path = tmp_path / "posts.jsonl"
    path.write_bytes('{"id": "c1", "text": "停\x01电"}\n{"id": "c2", "text": "来电了"}\n'.encode())
    report = import_files(sqlite, [path])
    assert report.imported == 1
    assert [str(r) for r in report.rejected] == [f"{path}:1: not JSON (Invalid control character at column 24)"]
