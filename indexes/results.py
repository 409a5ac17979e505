"""Result pages: hits read from the store of record, with escaped, highlighted snippets."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.query import SearchQuery

SNIPPET_CHARS = 160


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
    days: list[tuple[str, int]]

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


def search(store: Store, index: EmbeddedIndex, query: SearchQuery) -> SearchPage:
    raw = index.search(query)
    posts = store.get_posts(post_id for post_id, _ in raw.hits)
    needles = list(query.words) + list(query.terms)
    hits = [
        Hit(post=posts[post_id], score=float(key) if isinstance(key, float) else 0.0,
            snippet_html=snippet_html(posts[post_id]["text"], needles))
        for post_id, key in raw.hits
        if post_id in posts  # a post deleted from the store since it was indexed
    ]
    return SearchPage(query=query, total=raw.total, hits=hits, facets=raw.facets, days=raw.days)
