"""The query model: what an analyst asks, validated before it reaches any engine.

Free text is split into words on blanks; each word is segmented with the project's
segmenter and all of its terms must match. The text never reaches an engine's own query
parser, so no query syntax of the engine can be injected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core import segment
from core.schema import CHINA_TZ, PLATFORMS

SORTS = ("relevance", "newest")
FACETS = ("platform", "sentiment", "topics", "rumor")
MAX_QUERY_CHARS = 200
MAX_PER_PAGE = 100
MAX_PAGE = 500
RUMOR_THRESHOLD = 0.5


class QueryError(ValueError):
    """A query that cannot be run; the message tells the analyst what to change."""


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    platforms: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    rumor: bool = False
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    words: tuple[str, ...] = field(default=(), init=False)
    terms: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self):
        if len(self.text) > MAX_QUERY_CHARS:
            raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters; shorten it")
        unknown = set(self.platforms) - set(PLATFORMS)
        if unknown:
            raise QueryError(f"unknown platform {sorted(unknown)[0]!r}; use one of {', '.join(PLATFORMS)}")
        if self.sort not in SORTS:
            raise QueryError(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")
        if not (1 <= self.page <= MAX_PAGE):
            raise QueryError(f"page must be between 1 and {MAX_PAGE}")
        if not (1 <= self.per_page <= MAX_PER_PAGE):
            raise QueryError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if self.since and self.until and self.since > self.until:
            raise QueryError("the start of the time range is after its end")
        words = tuple(w for w in self.text.split() if w)
        terms = tuple(dict.fromkeys(t for w in words for t in segment.query_terms(w)))
        if words and not terms:
            raise QueryError("the query has no searchable word (only punctuation or symbols)")
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "terms", terms)


def parse_time(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO time (China time unless it says otherwise)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(f"{value!r} is not a date; write it as 2024-07-31 or 2024-07-31T18:00") from None
    if len(value.strip()) == 10 and end_of_day:
        parsed = parsed.replace(hour=23, minute=59, second=59, microsecond=999999)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)
