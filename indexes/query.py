"""The query model: what an analyst asks, validated before it reaches any engine.

Free text:

* words separated by blanks must all occur (``停电 东湖区``); ``AND`` may be written;
* ``A OR B`` wants either; ``NOT A`` or ``-A`` excludes; ``"..."`` is an exact phrase;
* an unquoted word is segmented with the project's segmenter and each of its words must
  occur (``武汉疫情`` -> 武汉, 疫情); a phrase must occur as written.

The text never reaches an engine's own query parser, so no engine syntax can be
injected: backends build their queries from ``TextQuery``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core import segment
from core.schema import CHINA_TZ, PLATFORMS
from indexes.analysis import index_tokens, normalise

SORTS = ("relevance", "newest", "engagement")
INTERVALS = ("day", "hour")
FACETS = ("platform", "verified", "polarity", "sentiment", "emotion", "rumor", "topics", "places", "cluster")
# SearchQuery field -> its query-string name, for the filters on a tagger's labels.
LABEL_FILTERS = {"polarities": "polarity", "sentiments": "sentiment", "emotions": "emotion", "topics": "topic"}
MAX_QUERY_CHARS = 200
MAX_ATOMS = 20
MAX_FILTER_VALUES = 20
MAX_VALUE_CHARS = 64
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_RELEVANCE_DEPTH = 10_000  # relevance pages by offset; newest and engagement by cursor
MAX_CURSOR = 2**63 - 1  # sort keys are signed 64-bit integers
RUMOR_THRESHOLD = 0.5
# Dates a query may name: well inside what the engines store (Tantivy's nanoseconds end in
# 1677 and 2262), with room for any time zone's offset either side.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199

_ITEMS = re.compile(r'(-?)"([^"]*)("?)|(\S+)')


class QueryError(ValueError):
    """A query that cannot be run; the message tells the analyst what to change."""


@dataclass(frozen=True)
class Atom:
    """A word or a quoted phrase of the query."""

    text: str
    phrase: bool = False

    @property
    def substrings(self) -> tuple[str, ...]:
        """What must each occur in a matching post's text."""
        if self.phrase:
            return (normalise(self.text).strip(),)
        return tuple(dict.fromkeys(segment.query_terms(normalise(self.text))))


@dataclass(frozen=True)
class TextQuery:
    all_of: tuple[tuple[Atom, ...], ...] = ()  # each group: any one of its atoms
    none_of: tuple[Atom, ...] = ()

    @property
    def highlights(self) -> list[str]:
        return [s for group in self.all_of for atom in group for s in atom.substrings]


def parse_text(text: str) -> TextQuery:
    """Parse the free text of a query; raises ``QueryError`` with what to change."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters; shorten it")
    if text.count('"') % 2:
        raise QueryError('a quotation mark (") is not closed')
    if re.search(r"[()（）]", text):
        raise QueryError("brackets are not supported; combine words with OR and NOT instead")
    groups: list[list[Atom]] = []
    excluded: list[Atom] = []
    pending_or = pending_not = False
    for negated, quoted, _closing, bare in _ITEMS.findall(text):
        if not quoted and bare in ("AND", "OR", "NOT"):
            if bare == "OR":
                if pending_or or pending_not or not groups:
                    raise QueryError("OR needs a word on each side")
                pending_or = True
            elif bare == "NOT":
                pending_not = True
            continue
        if bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        atom = Atom(quoted, phrase=True) if quoted or (negated and not bare) else Atom(bare)
        if not atom.substrings or not any(index_tokens(s) for s in atom.substrings):
            raise QueryError(f"{atom.text!r} has no searchable word (only punctuation or symbols)")
        if negated or pending_not:
            if pending_or:
                raise QueryError("NOT cannot be combined with OR; write the excluded word on its own")
            excluded.append(atom)
        elif pending_or:
            groups[-1].append(atom)
        else:
            groups.append([atom])
        pending_or = pending_not = False
    if pending_or or pending_not:
        raise QueryError("the query ends with OR or NOT; add the word it applies to")
    if sum(len(g) for g in groups) + len(excluded) > MAX_ATOMS:
        raise QueryError(f"the query has more than {MAX_ATOMS} words; shorten it")
    return TextQuery(tuple(tuple(g) for g in groups), tuple(excluded))


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    platforms: tuple[str, ...] = ()
    verified: bool | None = None
    polarities: tuple[str, ...] = ()  # negative / neutral / positive
    sentiments: tuple[str, ...] = ()
    emotions: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    rumor: bool = False  # only posts likely to be rumors (probability >= RUMOR_THRESHOLD)
    rumor_min: float | None = None
    rumor_max: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    after: int | None = None  # cursor from the previous page (newest and engagement sorts)
    interval: str = "day"
    parsed: TextQuery = field(default=TextQuery(), init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "parsed", parse_text(self.text))
        unknown = set(self.platforms) - set(PLATFORMS)
        if unknown:
            raise QueryError(f"unknown platform {sorted(unknown)[0]!r}; use one of {', '.join(PLATFORMS)}")
        for name in ("platforms", "polarities", "sentiments", "emotions", "topics", "places", "clusters"):
            values = getattr(self, name)
            if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_VALUE_CHARS for v in values):
                raise QueryError(f"too many or too long values for {name} "
                                 f"(at most {MAX_FILTER_VALUES} of {MAX_VALUE_CHARS} characters)")
        if self.sort not in SORTS:
            raise QueryError(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")
        if self.interval not in INTERVALS:
            raise QueryError(f"unknown interval {self.interval!r}; use day or hour")
        if not (1 <= self.page <= MAX_PAGE):
            raise QueryError(f"page must be between 1 and {MAX_PAGE}")
        if not (1 <= self.per_page <= MAX_PER_PAGE):
            raise QueryError(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if self.ranked and self.page * self.per_page > MAX_RELEVANCE_DEPTH:
            raise QueryError(f"results by relevance go {MAX_RELEVANCE_DEPTH} deep; sort by newest to page further")
        if self.after is not None and not 0 <= self.after <= MAX_CURSOR:
            raise QueryError("after is not a valid page cursor")
        if self.after is not None and self.ranked:
            raise QueryError("a page cursor goes with the newest or engagement sort")
        for bound in (self.rumor_min, self.rumor_max):
            if bound is not None and not 0 <= bound <= 1:
                raise QueryError("rumor probabilities are between 0 and 1")
        for bound in (self.since, self.until):
            if bound is not None:
                check_year(bound)
        if self.since and self.until and self.since > self.until:
            raise QueryError("the start of the time range is after its end")

    @property
    def ranked(self) -> bool:
        """Ordered by relevance (only when there is text to be relevant to)."""
        return self.sort == "relevance" and bool(self.parsed.all_of)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page if self.ranked or self.after is None else 0

    @property
    def sort_key(self) -> str:
        """The index field that orders an unranked page (time or engagement, id breaking ties)."""
        return "engagement_key" if self.sort == "engagement" else "newest_key"


def check_labels(query: SearchQuery, labels: Mapping[str, Iterable[str]]) -> None:
    """Refuse a filter on a label no tagger gives (``sentiment=joy``): it would silently
    match nothing. ``labels`` maps each of ``LABEL_FILTERS`` to its known values; the
    caller reads them from ``nlp`` (indexes does not depend on it)."""
    for field_name, name in LABEL_FILTERS.items():
        known = list(labels[field_name])
        unknown = [value for value in getattr(query, field_name) if value not in known]
        if unknown:
            raise QueryError(f"unknown {name} {unknown[0]!r}; use one of {', '.join(known)}")


def parse_time(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO time (China time unless it says otherwise)."""
    if not value:
        return None
    value = value.strip()[:40]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{value!r} is not a date; write it as 2024-07-31 or 2024-07-31T18:00") from None
    check_year(parsed)
    if len(value) == 10 and end_of_day:
        parsed = parsed.replace(hour=23, minute=59, second=59, microsecond=999999)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)


def check_year(value: datetime) -> None:
    """Refuse a date outside ``EARLIEST_YEAR``-``LATEST_YEAR``: the engines cannot compare
    with it, and near year 1 or 9999 converting its zone to UTC overflows."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise QueryError(f"{value.date().isoformat()} is out of range: dates go from {EARLIEST_YEAR}-01-01 "
                         f"to {LATEST_YEAR}-12-31")
