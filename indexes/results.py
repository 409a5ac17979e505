"""Result pages: what a backend answers, and the page shown to analysts.

A backend returns ids (with a score or sort key), facet counts and a histogram; the
page reads the posts from the store of record and adds escaped, highlighted snippets.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.store import Store
from indexes.query import FACETS, SearchQuery

if TYPE_CHECKING:
    from indexes.backends import IndexBackend

SNIPPET_CHARS = 160
FACET_SIZES = {"cluster": 10}  # the most copied texts; other facets list up to 50 values
ALL_PLACES = 5_000  # more than the gazetteer has codes (about 3,500): SearchQuery.all_places
MAX_DAYS, MAX_HOURS = 400, 24 * 31
MAX_MINUTES = 60 * 48  # an incident's day of lookback and its first hours (desk.dashboard.SHORT_WINDOW), and more
IDS_CHUNK = 5_000  # ids an engine fetches at a time for IndexBackend.ids


def facet_size(query: SearchQuery, name: str) -> int:
    """How many values the facet ``name`` lists, most posts first."""
    if name == "places" and query.all_places:
        return ALL_PLACES
    return FACET_SIZES.get(name, 50)


def histogram_size(interval: str) -> int:
    return {"day": MAX_DAYS, "hour": MAX_HOURS}.get(interval, MAX_MINUTES)


@dataclass
class RawResult:
    total: int
    hits: list[tuple[int, float | int]]  # (post id, score or sort key)
    facets: dict[str, list[tuple[str, int]]]
    histogram: list[tuple[str, int]]  # (day, hour or minute in China time, count), in time order
    next_after: int | None = None  # cursor of the next page (newest and engagement sorts)

    @classmethod
    def page_of(cls, query: SearchQuery, total, hits, facets, histogram) -> "RawResult":
        """A page from hits fetched one beyond it when sorted by a key: the extra one tells
        whether a next page exists, so the last page has no cursor."""
        more = not query.ranked and len(hits) > query.per_page
        hits = hits[: query.per_page]
        return cls(total=total, hits=hits, facets={name: facets.get(name, []) for name in FACETS},
                   histogram=histogram, next_after=hits[-1][1] if more else None)


@dataclass
class Hit:
    post: dict
    score: float
    snippet_html: str


@dataclass
class SearchPage:
    query: SearchQuery
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, int]]]
    histogram: list[tuple[str, int]]
    next_after: int | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def snippet_html(text: str, needles: list[str], width: int = SNIPPET_CHARS) -> str:
    """A window of the text around the first match, HTML-escaped, matches in ``<mark>``.

    Escaping happens piece by piece after the matches are found, so nothing from the
    post is ever emitted unescaped.
    """
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE) if needles else None
    first = pattern.search(text) if pattern else None
    start = max(0, first.start() - width // 4) if first else 0
    window = text[start : start + width]
    out = ["…" if start else ""]
    pos = 0
    for match in pattern.finditer(window) if pattern else ():
        out.append(html.escape(window[pos : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        pos = match.end()
    out.append(html.escape(window[pos:]))
    if start + width < len(text):
        out.append("…")
    return "".join(out)


def search(store: Store, index: IndexBackend, query: SearchQuery) -> SearchPage:
    """Run ``query`` on ``index`` (any backend) and read the hits from the store."""
    raw = index.search(query)
    posts = store.get_posts(post_id for post_id, _ in raw.hits)
    needles = query.parsed.highlights
    hits = [
        Hit(post=posts[post_id], score=float(key) if query.ranked else 0.0,
            snippet_html=snippet_html(posts[post_id]["text"], needles))
        for post_id, key in raw.hits
        if post_id in posts  # a post deleted from the store since it was indexed
    ]
    return SearchPage(query=query, total=raw.total, hits=hits, facets=raw.facets, histogram=raw.histogram,
                      next_after=raw.next_after)
