"""The spread page of a post and of a near-duplicate cluster (real app, real SQLite store)."""

from __future__ import annotations

import json
import random
import re

from core.settings import Settings
from core.store import Store
from crisiswatch.bench_spread import rumor_cluster
from desk.spread import spread_of_cluster, spread_of_post
from review_ui import create_app
from review_ui.spread import LABELLED
from tests.conftest import html, logged_in_client
from tests.desk.test_spread import LINKS, store_with_links


def spread_data(page: str) -> dict:
    data = re.search(r'<script type="application/json" id="spread-data">(.*?)</script>', page, re.S)
    return json.loads(data.group(1))


def test_the_spread_page_of_a_post_and_of_its_cluster(tmp_path):
    store = store_with_links(tmp_path, copies=3)
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'spread.db'}")
    app = create_app(settings, store=store)
    posts = {post["platform_id"]: post for post in store.get_posts(range(1, 20)).values()}
    source, reposted = posts["s"], posts["a1"]

    assert app.test_client().get(f"/spread/{source['id']}").status_code in (302, 303)  # login needed
    client = logged_in_client(app)
    assert f'href="/spread/{reposted["id"]}"' in html(client.get(f"/posts/{reposted['id']}"))
    page = html(client.get(f"/spread/{reposted['id']}"))
    assert "传播路径" in page and "共 8 条帖子，最深 3 层，1 个源头" in page
    assert "<b>快转</b>" not in page and "s：听说水库要溃坝了 &lt;b&gt;快转&lt;/b&gt;" in page  # escaped
    chart = spread_data(page)
    assert chart["tree"]["id"] == source["id"] and chart["tree"]["value"] == 5 and chart["labelled"]
    assert sorted(child["name"] for child in chart["tree"]["children"]) == sorted(["甲", "乙", "丙"])
    assert chart["depth"][-1] == 3 and chart["posts"][-1] == len(LINKS) - 1
    spreaders = re.search(r'id="key-spreaders">(.*?)</section>', page, re.S).group(1)
    assert [cells[0] for cells in re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td>", spreaders)] == ["源头", "甲", "丁"]
    assert "How it spread" in html(client.get(f"/spread/{source['id']}?lang=en"))

    cluster = posts["copy0"]["cluster"]
    assert f'href="/spread/cluster/{cluster}"' in html(client.get(f"/posts/{posts['copy0']['id']}"))
    assert f'href="/spread/cluster/{cluster}"' in html(client.get("/", query_string={"cluster": cluster}))
    clustered = html(client.get(f"/spread/cluster/{cluster}?lang=zh"))
    assert "共 3 条帖子，最深 0 层，3 个源头" in clustered and len(spread_data(clustered)["tree"]["children"]) == 3
    assert client.get("/spread/999").status_code == 404
    assert client.get("/spread/cluster/nope").status_code == 404
    assert client.get("/spread/cluster/0123").status_code == 404
    store.close()


def test_the_spread_page_of_a_cluster_of_5000_posts_counts_them_all_and_draws_the_first_2000(tmp_path):
    """(Its speed is measured by `crisiswatch bench spread`, not here.)"""
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'big.db'}")
    store = Store(settings.database_url)
    store.upsert_posts(rumor_cluster(5000, random.Random(1)))
    client = logged_in_client(create_app(settings, store=store))
    page = html(client.get(f"/spread/cluster/{store.get_post(1)['cluster']}"))
    assert "共 10000 条帖子" in page and "1000 个源头" in page and "传播树只画出前 2000 条" in page
    store.close()


def _named(node: dict) -> set:
    """The ids of the tree's posts whose names the chart shows beside their dots."""
    own = {node["id"]} if node.get("label", {}).get("show") else set()
    return own.union(*(_named(child) for child in node["children"]))


def test_the_tree_names_every_post_of_a_small_spread_and_of_a_large_one_its_first_source_and_key_spreaders(tmp_path):
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'spread.db'}")
    store = store_with_links(tmp_path)
    store.upsert_posts(rumor_cluster(40, random.Random(2)))
    client = logged_in_client(create_app(settings, store=store))
    small = spread_data(html(client.get("/spread/1")))
    assert _named(small["tree"]) == set(spread_of_post(store, 1).nodes)
    cluster = store.get_post(len(LINKS) + 1)["cluster"]  # the first copy of the rumor, after the links
    large = spread_of_cluster(store, cluster)
    assert len(large.nodes) > LABELLED
    named = _named(spread_data(html(client.get(f"/spread/cluster/{cluster}")))["tree"])
    assert named == {large.first_source.id} | {node.id for node in large.spreaders()}
    store.close()
