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
from core.errors import CodedError
from core.schema import CHINA_TZ, PLATFORMS
from indexes.analysis import index_tokens, normalise

SORTS = ("relevance", "newest", "engagement")
INTERVALS = ("day", "hour", "minute")
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


MESSAGES = {  # English; the UI's catalogs have each as query_<code>
    "too_long": "the query is longer than {max} characters; shorten it",
    "quote_open": 'a quotation mark (") is not closed',
    "brackets": "brackets are not supported; combine words with OR and NOT instead",
    "or_alone": "OR needs a word on each side",
    "no_word": "{text!r} has no searchable word (only punctuation or symbols)",
    "not_with_or": "NOT cannot be combined with OR; write the excluded word on its own",
    "ends_with_operator": "the query ends with OR or NOT; add the word it applies to",
    "too_many_words": "the query has more than {max} words; shorten it",
    "unknown_platform": "unknown platform {value!r}; use one of {choices}",
    "filter_values": "too many or too long values for {name} (at most {max} of {chars} characters)",
    "unknown_sort": "unknown sort {value!r}; use one of {choices}",
    "unknown_interval": "unknown interval {value!r}; use day, hour or minute",
    "page": "page must be between 1 and {max}",
    "per_page": "per_page must be between 1 and {max}",
    "relevance_depth": "results by relevance go {max} deep; sort by newest to page further",
    "cursor": "after is not a valid page cursor",
    "cursor_sort": "a page cursor goes with the newest or engagement sort",
    "rumor_range": "rumor probabilities are between 0 and 1",
    "time_range": "the start of the time range is after its end",
    "unknown_label": "unknown {filter} {value!r}; use one of {labels}",
    "not_a_date": "{value!r} is not a date; write it as 2024-07-31 or 2024-07-31T18:00",
    "date_range": "{date} is out of range: dates go from {earliest}-01-01 to {latest}-12-31",
    # a query string's parameters, bounded before they reach the query (review_ui.params)
    "too_many_values": "too many values for {name} (at most {max})",
    "value_too_long": "a value of {name} is too long (at most {max} characters)",
    "whole_number": "{name} must be a whole number",
    "number": "{name} must be a number such as 0.5",
    "percentage": "{name} must be a percentage from 0 to 100",
    "verified": "verified must be yes or no",
    "time_too_long": "{value!r}… is not a date",
}


class QueryError(CodedError, ValueError):
    """A query that cannot be run; the message tells the analyst what to change."""

    PREFIX = "query_"
    MESSAGES = MESSAGES


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
        raise QueryError("too_long", max=MAX_QUERY_CHARS)
    if text.count('"') % 2:
        raise QueryError("quote_open")
    if re.search(r"[()（）]", text):
        raise QueryError("brackets")
    groups: list[list[Atom]] = []
    excluded: list[Atom] = []
    pending_or = pending_not = False
    for negated, quoted, _closing, bare in _ITEMS.findall(text):
        if not quoted and bare in ("AND", "OR", "NOT"):
            if bare == "OR":
                if pending_or or pending_not or not groups:
                    raise QueryError("or_alone")
                pending_or = True
            elif bare == "NOT":
                pending_not = True
            continue
        if bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        atom = Atom(quoted, phrase=True) if quoted or (negated and not bare) else Atom(bare)
        if not atom.substrings or not any(index_tokens(s) for s in atom.substrings):
            raise QueryError("no_word", text=atom.text)
        if negated or pending_not:
            if pending_or:
                raise QueryError("not_with_or")
            excluded.append(atom)
        elif pending_or:
            groups[-1].append(atom)
        else:
            groups.append([atom])
        pending_or = pending_not = False
    if pending_or or pending_not:
        raise QueryError("ends_with_operator")
    if sum(len(g) for g in groups) + len(excluded) > MAX_ATOMS:
        raise QueryError("too_many_words", max=MAX_ATOMS)
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
    all_places: bool = False  # the places facet lists every place, not the 50 with most posts (the map)
    parsed: TextQuery = field(default=TextQuery(), init=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "parsed", parse_text(self.text))
        unknown = set(self.platforms) - set(PLATFORMS)
        if unknown:
            raise QueryError("unknown_platform", value=sorted(unknown)[0], choices=", ".join(PLATFORMS))
        for name in ("platforms", "polarities", "sentiments", "emotions", "topics", "places", "clusters"):
            values = getattr(self, name)
            if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_VALUE_CHARS for v in values):
                raise QueryError("filter_values", name=name, max=MAX_FILTER_VALUES, chars=MAX_VALUE_CHARS)
        if self.sort not in SORTS:
            raise QueryError("unknown_sort", value=self.sort, choices=", ".join(SORTS))
        if self.interval not in INTERVALS:
            raise QueryError("unknown_interval", value=self.interval)
        if not (1 <= self.page <= MAX_PAGE):
            raise QueryError("page", max=MAX_PAGE)
        if not (1 <= self.per_page <= MAX_PER_PAGE):
            raise QueryError("per_page", max=MAX_PER_PAGE)
        if self.ranked and self.page * self.per_page > MAX_RELEVANCE_DEPTH:
            raise QueryError("relevance_depth", max=MAX_RELEVANCE_DEPTH)
        if self.after is not None and not 0 <= self.after <= MAX_CURSOR:
            raise QueryError("cursor")
        if self.after is not None and self.ranked:
            raise QueryError("cursor_sort")
        for bound in (self.rumor_min, self.rumor_max):
            if bound is not None and not 0 <= bound <= 1:
                raise QueryError("rumor_range")
        for bound in (self.since, self.until):
            if bound is not None:
                check_year(bound)
        if self.since and self.until and self.since > self.until:
            raise QueryError("time_range")

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
            raise QueryError("unknown_label", filter=name, value=unknown[0], labels=", ".join(known))


def parse_time(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` or an ISO time (China time unless it says otherwise)."""
    if not value:
        return None
    value = value.strip()[:40]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError("not_a_date", value=value) from None
    check_year(parsed)
    if len(value) == 10 and end_of_day:
        parsed = parsed.replace(hour=23, minute=59, second=59, microsecond=999999)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)


def check_year(value: datetime) -> None:
    """Refuse a date outside ``EARLIEST_YEAR``-``LATEST_YEAR``: the engines cannot compare
    with it, and near year 1 or 9999 converting its zone to UTC overflows."""
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise QueryError("date_range", date=value.date().isoformat(), earliest=EARLIEST_YEAR, latest=LATEST_YEAR)
