"""The map of where posts come from: the place facet of one search, by province and city
(real store, real embedded index, places tagged by the real gazetteer)."""

from __future__ import annotations

from dataclasses import replace

from core.store import Store
from desk.place_map import place_map
from indexes.backends import open_index
from indexes.query import SearchQuery
from indexes.results import search
from tests.desk.place_posts import HUBEI, PROVINCES, QUERY, home_with_places


def test_the_map_counts_each_province_and_city_as_the_search_filtered_to_it(tmp_path):
    settings = home_with_places(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    query = SearchQuery(text=QUERY)
    found = place_map(store, index, query)
    assert found.total == 8 and dict(found.provinces) == PROVINCES
    assert dict(found.within("420000")) == HUBEI and dict(found.within("110000")) == {"110105": 2}
    for code, count in found.provinces + found.within("420000"):  # what a click on the region opens
        assert search(store, index, replace(query, places=(code,))).total == count, code
    assert found.off_map == 2  # the two posts at the fictional 滨海市

    # A post that names two provinces counts in both: the posts off the map are then at least those said.
    wider = place_map(store, index, SearchQuery(text=f"{QUERY} OR 限电"))
    assert wider.total == 9 and dict(wider.provinces) == {**PROVINCES, "510000": 1, "500000": 1}
    assert wider.off_map == 1
    store.close()
