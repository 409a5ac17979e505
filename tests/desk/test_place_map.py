"""The map of where posts come from: the place facet of the dashboard's search, by province
and city (real store, real embedded index, places tagged by the real gazetteer)."""

from __future__ import annotations

from dataclasses import replace

from core.schema import Tags, make_post
from core.store import Store
from desk.dashboard import build
from indexes.backends import open_index
from indexes.indexer import index_pending
from indexes.query import SearchQuery
from indexes.results import search
from nlp.places import gazetteer
from tests.desk.place_posts import HUBEI, PROVINCES, QUERY, home_with_places


def test_the_map_counts_each_province_and_city_as_the_search_filtered_to_it(tmp_path):
    settings = home_with_places(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    query = SearchQuery(text=QUERY)
    found = build(store, index, QUERY, None, None).place_map
    assert found.total == 8 and dict(found.provinces) == PROVINCES
    cities = {code: count for code, count in found.places if code[:2] == "42" and code != "420000"}
    assert cities == HUBEI and {code: n for code, n in found.places if code[:2] == "11"} == {"110000": 2, "110105": 2}
    for code, count in found.provinces + list(cities.items()):  # what a click on the region opens
        assert search(store, index, replace(query, places=(code,))).total == count, code
    assert found.off_map == 2  # the two posts at the fictional 滨海市

    # A post that names two provinces counts in both: the posts off the map are then at least those said.
    wider = build(store, index, f"{QUERY} OR 限电", None, None).place_map
    assert wider.total == 9 and dict(wider.provinces) == {**PROVINCES, "510000": 1, "500000": 1}
    assert wider.off_map == 1
    store.close()


def test_the_map_has_every_province_however_many_places_the_posts_name(tmp_path):
    """A post in each province's capital district carries three codes: 93 places in all,
    more than the fifty a search page lists, and each province is still on the map."""
    settings = home_with_places(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    provinces = [code for code in gazetteer().places if code.endswith("0000") and code[:2] not in ("71", "81", "82")]
    first = len(store.get_posts(range(1, 100)))
    store.upsert_posts([make_post(platform="weibo", platform_id=f"national{n}", text=f"全国停电 {code}")
                        for n, code in enumerate(provinces)])
    store.save_tags([Tags(first + 1 + n, 0.1, "anxiety", 0.6, [], "place-test",
                          places=[code, code[:2] + "0100", code[:2] + "0101"]) for n, code in enumerate(provinces)])
    index_pending(store, index)
    found = build(store, index, "全国停电", None, None).place_map
    assert len(provinces) == 31 and dict(found.provinces) == {code: 1 for code in provinces}
    assert found.off_map == 0
    store.close()
