"""The store of record, on SQLite and on a real PostgreSQL server."""

import multiprocessing
import sqlite3

import pytest

from core.schema import Tags, make_post


def weibo(pid, text="停电了", **fields):
    return make_post(platform="weibo", platform_id=pid, text=text, **fields)


def test_a_post_is_stored_once_and_its_counts_updated(store):
    first = store.upsert_posts([weibo("a", reposts_count=1), weibo("b")])
    assert (first.inserted, first.duplicates) == (2, 0)
    again = store.upsert_posts([weibo("a", reposts_count=9), weibo("a", reposts_count=9), weibo("c")])
    assert (again.inserted, again.duplicates) == (1, 2)
    [counts] = store.counts()
    assert counts.stored == 3
    post_a = next(p for p in store.get_posts(range(1, 10)).values() if p["platform_id"] == "a")
    assert post_a["reposts_count"] == 9


def test_the_same_id_on_two_platforms_is_two_posts(store):
    store.upsert_posts([weibo("x"), make_post(platform="tieba", platform_id="x", text="贴吧")])
    assert sorted(c.platform for c in store.counts()) == ["tieba", "weibo"]


def test_work_flows_from_stored_to_tagged_to_indexed(store):
    store.upsert_posts([weibo(str(i), text=f"第{i}条") for i in range(5)])
    todo = store.posts_to_tag(0, 3)
    assert [text for _, text in todo] == ["第0条", "第1条", "第2条"]
    assert store.count_to_tag() == 5
    store.save_tags([Tags(pid, 0.2, "anger", 0.7, ["outage_report"], "test-1") for pid, _ in todo])
    assert store.count_to_tag() == 2
    assert [pid for pid, _ in store.posts_to_tag(0, 10)] == [4, 5]

    pending = store.posts_to_index(0, 10)
    assert len(pending) == 5 and pending[0]["tags"]["sentiment"] == "anger"
    store.mark_indexed([(p["id"], p["rev"]) for p in pending])
    assert store.count_to_index() == 0
    # re-tagging or a changed count makes a post pending again; an unchanged re-import does not
    store.save_tags([Tags(1, 0.9, "anxiety", 0.6, [], "test-2")])
    store.upsert_posts([weibo("1", text="第1条", likes_count=5), weibo("2", text="第2条")])
    assert sorted(p["id"] for p in store.posts_to_index(0, 10)) == [1, 2]
    assert store.model_versions() == {"test-1": 2, "test-2": 1}


def test_a_stale_mark_does_not_hide_a_newer_change(store):
    store.upsert_posts([weibo("a")])
    [pending] = store.posts_to_index(0, 10)
    store.upsert_posts([weibo("a", comments_count=3)])  # changes while being indexed
    store.mark_indexed([(pending["id"], pending["rev"])])
    assert store.count_to_index() == 1


def test_crawl_runs_report_the_latest_run_of_each_job(store):
    first = store.start_crawl_run("news", "news")
    store.finish_crawl_run(first, status="ok", pages=3, stored=2, duplicates=0, rejected=0)
    second = store.start_crawl_run("news", "news")
    store.finish_crawl_run(second, status="blocked", pages=1, stored=0, duplicates=0, rejected=0, message="captcha")
    [run] = store.last_crawl_runs()
    assert (run["status"], run["message"]) == ("blocked", "captcha")


def test_a_new_reply_has_its_parent_tagged_again(store):
    store.upsert_posts([weibo("p", text="网传今晚全城停电"), weibo("other")])
    store.save_tags([Tags(1, 0.3, "anxiety", 0.6, [], "test-1"), Tags(2, 0.1, "anger", 0.5, [], "test-1")])
    assert store.count_to_tag() == 0
    store.upsert_posts([weibo("r1", text="谣言，假的", parent_id="p", kind="comment")])
    assert [pid for pid, _ in store.posts_to_tag(0, 10)] == [1, 3]  # the parent again, and the reply
    store.save_tags([Tags(1, 0.8, "anxiety", 0.6, [], "test-1"), Tags(3, 0.1, "anger", 0.5, [], "test-1")])
    store.upsert_posts([weibo("r1", text="谣言，假的", parent_id="p", kind="comment", likes_count=2)])
    assert store.count_to_tag() == 0  # a reply seen before changes nothing the rumor tag reads
    store.upsert_posts([make_post(platform="tieba", platform_id="r2", text="回复", parent_id="p")])
    assert store.count_to_tag() == 1  # a reply on another platform answers another post


def test_a_correction_of_every_topic_fits(store):
    from nlp.topics import load_taxonomy

    store.upsert_posts([weibo("a")])
    every = ",".join(sorted(t.label for t in load_taxonomy()))
    store.add_correction(1, "topics", every)
    assert store.corrected_examples("topics") == [(1, "停电了", every)]


RUMOR = "【紧急通知】今晚8点起全市大面积停电三天，请大家提前储水储粮，家里有老人孩子的注意安全，转发扩散！"


def test_near_duplicates_share_a_cluster_with_its_count(store):
    copies = [
        RUMOR,
        RUMOR + " @供电小助手 http://t.cn/A6abcd",  # a mention and a link added
        RUMOR.replace("8点", "9点").replace("转发扩散", "速转"),  # a few words changed
        "　" + RUMOR.replace("，", ","),  # blanks and punctuation
    ]
    others = ["供电公司表示，受台风影响的线路已于今日下午全部恢复供电，感谢广大市民的理解与支持。", "转发微博", "转发微博"]
    store.upsert_posts([weibo(f"c{n}", text) for n, text in enumerate(copies[:2])])
    store.upsert_posts([weibo(f"c{n}", text) for n, text in enumerate(copies) if n >= 2]
                       + [weibo(f"o{n}", text) for n, text in enumerate(others)])
    posts = {p["platform_id"]: p for p in store.posts_to_index(0, 100)}
    assert {posts[f"c{n}"]["cluster"] for n in range(4)} == {posts["c0"]["cluster"]}
    assert posts["c3"]["copies"] == 4
    assert posts["o0"]["cluster"] != posts["c0"]["cluster"] and posts["o0"]["copies"] == 1
    assert posts["o1"]["cluster"] is posts["o2"]["cluster"] is None  # a wordless repost: in no cluster
    assert posts["o1"]["copies"] == 1


def test_a_short_text_is_grouped_with_its_exact_copies_and_a_wordless_repost_with_none(store):
    short, reposts = ["真的假的？", "真的假的？"], ["转发微博", "轉發微博 ", "Repost", "//@供电小助手:"]
    store.upsert_posts([weibo(f"s{n}", text) for n, text in enumerate(short)]
                       + [weibo(f"r{n}", text) for n, text in enumerate(reposts)])
    posts = {p["platform_id"]: p for p in store.posts_to_index(0, 100)}
    assert posts["s0"]["cluster"] == posts["s1"]["cluster"] is not None and posts["s0"]["copies"] == 2
    assert [posts[f"r{n}"]["cluster"] for n in range(len(reposts))] == [None] * len(reposts)


def _open_store_and_workflow(url, barrier, results):
    from core.store import Store
    from desk.database import create_tables

    barrier.wait()
    try:
        store = Store(url)
        create_tables(store.engine)
        results.put("ok")
    except Exception as error:  # reported to the test, which names it
        results.put(f"{type(error).__name__}: {str(error)[:200]}")


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_processes_setting_up_one_new_database_at_once_all_succeed(database, request, tmp_path):
    """The demo starts its UI workers, a crawl and a trainer on a new home at the same moment:
    the losers of the CREATE TABLE race were told "table posts already exists" and died."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_open_store_and_workflow, args=(url, barrier, results)) for _ in range(6)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert outcomes == ["ok"] * 6


def test_a_new_database_without_the_installed_schema_builder_is_refused_not_left_unversioned(tmp_path, monkeypatch):
    """Tables made without the migration history's revision would later be taken for a home
    of release 0.1.0; where the package's entry point is missing, nothing is made."""
    from core.store import Store

    monkeypatch.setattr("core.store.entry_points", lambda group: [])
    with pytest.raises(RuntimeError, match="install it"):
        Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert sqlite3.connect(tmp_path / "new.db").execute("select count(*) from sqlite_master").fetchone() == (0,)


class _LockedCursor:
    """A cursor whose database another process is switching to WAL: SQLite answers
    'database is locked' (without its busy wait) ``locked`` times, then the switch goes."""

    def __init__(self, locked: int, error: str = "database is locked"):
        self.locked, self.error, self.mode, self.calls = locked, error, "delete", []

    def execute(self, sql):
        self.calls.append(sql)
        if self.locked:
            self.locked -= 1
            raise sqlite3.OperationalError(self.error)
        if sql.endswith("=WAL"):
            self.mode = "wal"
        return self

    def fetchone(self):
        return (self.mode,)


def test_switching_to_wal_waits_while_another_process_switches_and_raises_other_errors(monkeypatch):
    from core.store import _switch_to_wal

    cursor = _LockedCursor(locked=3)
    _switch_to_wal(cursor)
    assert cursor.mode == "wal" and cursor.calls[-1] == "PRAGMA journal_mode=WAL"
    already = _LockedCursor(locked=0)
    already.mode = "wal"
    _switch_to_wal(already)
    assert already.calls == ["PRAGMA journal_mode"]  # a file in WAL already is not switched again
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        _switch_to_wal(_LockedCursor(locked=1, error="disk I/O error"))
    monkeypatch.setattr("core.store.SQLITE_WAIT_S", -1)  # past its wait: the lock is said, not waited for
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _switch_to_wal(_LockedCursor(locked=1))
