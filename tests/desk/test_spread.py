"""How a rumor spread: the tree rebuilt from the store's parent links (real SQLite and PostgreSQL stores)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.schema import make_post
from core.store import Store
from desk.spread import spread_of_cluster, spread_of_post
from tests.conftest import statements_with

START = datetime(2024, 7, 25, 7, 0, tzinfo=timezone.utc)
# platform id: (parent, kind, minutes after START, author)
LINKS = {
    "s": (None, "post", 0, "源头"),
    "a": ("s", "repost", 10, "甲"), "b": ("s", "repost", 20, "乙"), "c": ("s", "comment", 25, "丙"),
    "a1": ("a", "repost", 30, "丁"), "a2": ("a", "repost", 40, "戊"), "a3": ("a", "comment", 45, "己"),
    "a11": ("a1", "repost", 70, "庚"),
    "x1": ("gone", "repost", 50, "辛"),  # its parent was never stored: not in s's tree
}


def store_with_links(folder, copies: int = 0) -> Store:
    """A SQLite store at ``folder``/spread.db with the posts of ``LINKS`` and ``copies`` copies of one rumor."""
    return add_links(Store(f"sqlite:///{folder / 'spread.db'}"), copies)


def add_links(store: Store, copies: int = 0) -> Store:
    posts = [make_post(platform="weibo", platform_id=pid, parent_id=parent, kind=kind, author_name=author,
                       text=f"{pid}：听说水库要溃坝了 <b>快转</b>", created_at=START + timedelta(minutes=minutes))
             for pid, (parent, kind, minutes, author) in LINKS.items()]
    posts += [make_post(platform="weibo", platform_id=f"copy{n}", text="听说水库要溃坝了，快转！",
                        created_at=START + timedelta(hours=2, minutes=n)) for n in range(copies)]
    store.upsert_posts(posts)
    return store


def test_the_tree_of_a_post_from_its_first_source_down(store):
    add_links(store)
    ids = {post["platform_id"]: post["id"] for post in store.get_posts(range(1, 20)).values()}
    found = spread_of_post(store, ids["a1"])  # from a repost: the whole tree of its source
    by_pid = {node.platform_id: node for node in found.nodes.values()}
    assert set(by_pid) == set(LINKS) - {"x1"} and not found.truncated
    assert found.roots == [ids["s"]] and found.first_source.platform_id == "s"
    assert {(found.nodes[p].platform_id, found.nodes[c].platform_id) for p, c in found.edges} == {
        (parent, pid) for pid, (parent, *_) in LINKS.items() if parent and pid != "x1"}
    assert {pid: node.depth for pid, node in by_pid.items()} == {
        "s": 0, "a": 1, "b": 1, "c": 1, "a1": 2, "a2": 2, "a3": 2, "a11": 3}
    # reposts downstream: comments count for nothing
    assert [(n.platform_id, n.downstream, n.author) for n in found.spreaders()] == [
        ("s", 5, "源头"), ("a", 3, "甲"), ("a1", 1, "丁")]
    assert [(row["posts"], row["depth"], row["breadth"]) for row in found.over_time()
            if row["at"] - START in (timedelta(minutes=m) for m in (5, 30, 45, 75))] == [
        (1, 0, 1), (4, 1, 3), (6, 2, 3), (8, 3, 3)]
    assert spread_of_post(store, 999) is None


def test_the_store_is_read_level_by_level_and_the_tree_is_bounded(store):
    add_links(store, copies=30)
    posts = {post["platform_id"]: post for post in store.get_posts(range(1, 60)).values()}
    cluster = posts["copy0"]["cluster"]
    with statements_with(store.engine, "select") as seen:
        found = spread_of_cluster(store, cluster)
    assert len(found.nodes) == 30 and len(found.roots) == 30 and len(seen) <= 3  # the cluster, one level
    bounded = spread_of_post(store, posts["s"]["id"], max_nodes=5)
    assert bounded.truncated and len(bounded.nodes) == 5
    assert [n.platform_id for n in bounded.nodes.values()][:4] == ["s", "a", "b", "c"]


def test_the_climb_to_the_source_stops_at_a_loop_of_parent_links(store):
    store.upsert_posts([make_post(platform="weibo", platform_id=pid, parent_id=parent, kind="repost",
                                  text=f"{pid}：听说水库要溃坝了", created_at=START + timedelta(minutes=minutes))
                        for pid, parent, minutes in (("A", "B", 0), ("B", "A", 10))])
    ids = {post["platform_id"]: post["id"] for post in store.get_posts(range(1, 5)).values()}
    with statements_with(store.engine, "select") as seen:
        found = spread_of_post(store, ids["A"])
    assert found.roots == [ids["B"]] and {n.platform_id for n in found.nodes.values()} == {"A", "B"}
    assert len(seen) <= 5  # A, B, then the tree: not 50 steps round the loop
