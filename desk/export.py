"""Search results as CSV, for the search page's download and ``crisiswatch search --csv``.

The file opens in Excel as it is: UTF-8 with a byte order mark, quoted as RFC 4180 says
(the ``csv`` module), a post's newlines, emoji and HTML kept as text. A cell that a
spreadsheet would read as a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab, a
carriage return or a NUL, as OWASP's CSV injection guidance and ASVS 5.0 1.2.10 list) gets
a leading ``'``.

The headers are stable English keys, the same whatever language the reader chose, so a
spreadsheet or a script built on one export reads the next.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from core.schema import CHINA_TZ
from core.store import Store
from indexes.backends import IndexBackend
from indexes.query import SearchQuery
from nlp.places import Gazetteer, gazetteer

MAX_ROWS = 100_000
CHUNK = 1_000  # posts read from the store, and CSV text handed on, at a time
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
COLUMNS = ("id", "platform", "platform_id", "kind", "author", "author_verified", "time", "title", "text", "url",
           "sentiment", "emotion", "polarity", "rumor_prob", "topics", "places", "place_codes",
           "likes", "reposts", "comments", "cluster")


def neutralise(value: str) -> str:
    """The cell as text a spreadsheet shows and never evaluates."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _row(post: dict, places: Gazetteer) -> list:
    tags = post["tags"] or {}
    codes = tags.get("places") or []
    when = post["created_at"] or post["stored_at"]
    row = [
        post["id"], post["platform"], post["platform_id"], post["kind"], post["author_name"] or "",
        {True: "yes", False: "no"}.get(post["author_verified"], ""),
        when.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S"), post["title"] or "", post["text"], post["url"] or "",
        tags.get("sentiment") or "", tags.get("emotion") or "", tags.get("polarity") or "",
        "" if tags.get("rumor_prob") is None else f"{tags['rumor_prob']:.3f}",
        " ".join(tags.get("topics") or []), " ".join(places.name(code) for code in codes), " ".join(codes),
        post["likes_count"], post["reposts_count"], post["comments_count"], post["cluster"] or "",
    ]
    return [neutralise(cell) if isinstance(cell, str) else cell for cell in row]


def export_csv(store: Store, index: IndexBackend, query: SearchQuery, limit: int = MAX_ROWS,
               own_places: Path | None = None) -> Iterator[str]:
    """The first ``limit`` results of ``query`` (every page, in its order) as CSV text, a
    chunk of rows at a time: the first begins with the byte order mark and the headers.
    ``own_places``: the home's own places file (``Settings.own_places``), which names their codes."""
    places = gazetteer(own_places)
    ids = index.ids(query, limit)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    while chunk := list(islice(ids, CHUNK)):
        posts = store.get_posts(chunk)
        writer.writerows(_row(posts[post_id], places) for post_id in chunk if post_id in posts)  # deleted since indexed: left out
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no results: the headers alone
        yield buffer.getvalue()
