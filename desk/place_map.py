"""Where posts come from, for a map of China's provinces and their cities: the ``places``
facet of one search (every place it found, not only the fifty the search page lists), read
by administrative code (the codes of ``nlp.places``, which a post carries with every level
above it: 420106 comes with 420100 and 420000).

The counts are the facet's, so the map and the search's place filter always agree. Places
the gazetteer cannot resolve (the demo's fictional 滨海市) carry no code and stay off the
map; ``off_map`` is how many posts name no province at all, as far as the facet can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

# the provinces' GeoJSON, a file per region code, under the review UI's static folder (the
# Makefile fetches it): named here so that the command line finds it without the UI
MAP_FILES = "vendor/china-map"


@dataclass(frozen=True)
class PlaceMap:
    total: int  # posts the search found
    places: list[tuple[str, int]]  # the place facet: (code, posts), most posts first

    @property
    def provinces(self) -> list[tuple[str, int]]:
        return [(code, count) for code, count in self.places if code.endswith("0000")]

    @property
    def off_map(self) -> int:
        """Posts that name no province: at least this many, since a post that names two
        provinces counts in both."""
        return max(0, self.total - sum(count for _, count in self.provinces))


def from_page(page) -> PlaceMap:
    """The map of a search page already run (the dashboard's own search, which asks for
    every place: ``SearchQuery.all_places``)."""
    return PlaceMap(total=page.total, places=list(page.facets.get("places", [])))

