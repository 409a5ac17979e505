"""Query-string parameters -> ``SearchQuery``, shared by the search page and the JSON API.

``SearchQuery`` validates the query itself; here the raw strings are bounded first (how
many values, how long) so that nothing unbounded reaches it or an error message.
Every failure is a ``QueryError`` (its codes are in ``indexes.query.MESSAGES``).
"""

from __future__ import annotations

import re

from werkzeug.datastructures import MultiDict

from indexes.query import MAX_FILTER_VALUES, MAX_VALUE_CHARS, QueryError, SearchQuery, check_labels, parse_time

MAX_VALUES = MAX_FILTER_VALUES
MAX_WORD_CHARS = 20  # sort, interval, verified
MAX_TIME_CHARS = 40
MAX_ID = 2**63 - 1  # the database's ids are signed 64-bit integers
DEFAULT_PER_PAGE = 20
TRUE_VALUES = ("1", "on", "true", "yes")
VERIFIED = {"yes": True, "no": False}
_NUMBER = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?|\.[0-9]{1,6}")  # ASCII only: no nan, inf, 1e3, "1_0"

# Query-string name -> SearchQuery field, for the repeatable filters.
FILTERS = {
    "platform": "platforms", "polarity": "polarities", "sentiment": "sentiments", "emotion": "emotions",
    "topic": "topics", "place": "places", "cluster": "clusters",
}
# Facet name (as the index returns it) -> query-string name.
FACET_PARAMS = {
    "platform": "platform", "verified": "verified", "polarity": "polarity", "sentiment": "sentiment",
    "emotion": "emotion",
    "rumor": "rumor", "topics": "topic", "places": "place", "cluster": "cluster",
}
SINGLE_VALUED = ("verified", "rumor")  # facets whose parameter takes one value


def _values(args: MultiDict, name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))
    if len(values) > MAX_VALUES:
        raise QueryError("too_many_values", name=name, max=MAX_VALUES)
    if any(len(v) > MAX_VALUE_CHARS for v in values):
        raise QueryError("value_too_long", name=name, max=MAX_VALUE_CHARS)
    return values


def _word(args: MultiDict, name: str, default: str) -> str:
    raw = (args.get(name) or "").strip()
    if len(raw) > MAX_WORD_CHARS:
        raise QueryError("value_too_long", name=name, max=MAX_WORD_CHARS)
    return raw or default


def _int(args: MultiDict, name: str, default: int | None, digits: int = 9) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    # isdigit() alone accepts other scripts' digits and int() accepts "1_0"; be strict.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= digits):
        raise QueryError("whole_number", name=name)
    return int(raw)


def as_id(raw: str) -> int:
    """A database id from a form: ASCII digits up to ``MAX_ID``, else ``ValueError``, so it
    serves as ``type=`` of ``request.form.get`` and ``getlist`` (a bad value reads as absent).
    ``int`` alone takes "²" (after ``isdigit``), "١", "1_0" and ids the database cannot hold."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or int(raw) > MAX_ID:
        raise ValueError(f"{raw[:20]!r} is not an id")
    return int(raw)


def _float(args: MultiDict, name: str) -> float | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if not _NUMBER.fullmatch(raw):
        raise QueryError("number", name=name)
    return float(raw)


def _percent(args: MultiDict, name: str) -> float | None:
    """A probability given in percent (the search page's unit, as its cards show it)."""
    raw = (args.get(name) or "").strip()
    if raw and not (_NUMBER.fullmatch(raw) and float(raw) <= 100):
        raise QueryError("percentage", name=name)
    return float(raw) / 100 if raw else None


def _verified(args: MultiDict) -> bool | None:
    raw = _word(args, "verified", "").lower()
    if raw and raw not in VERIFIED:
        raise QueryError("verified")
    return VERIFIED.get(raw)


def _time(args: MultiDict, name: str, end_of_day: bool):
    raw = (args.get(name) or "").strip()
    if len(raw) > MAX_TIME_CHARS:
        raise QueryError("time_too_long", value=raw[:MAX_TIME_CHARS])
    return parse_time(raw, end_of_day=end_of_day)


def query_from_args(args: MultiDict, labels: dict[str, list[str]], percent: bool = False) -> SearchQuery:
    """The search described by ``args``; raises ``QueryError``. ``labels`` are the known
    values of the label filters (``nlp.models.filter_labels``). ``rumor_min`` and
    ``rumor_max`` are probabilities (0-1), or percentages (0-100) with ``percent`` (the
    search page)."""
    bound = _percent if percent else _float
    filters = {field: _values(args, name) for name, field in FILTERS.items()}
    query = SearchQuery(
        text=(args.get("q") or "").strip(),
        verified=_verified(args),
        rumor=(args.get("rumor") or "").lower() in TRUE_VALUES,
        rumor_min=bound(args, "rumor_min"),
        rumor_max=bound(args, "rumor_max"),
        since=_time(args, "since", end_of_day=False),
        until=_time(args, "until", end_of_day=True),
        sort=_word(args, "sort", "relevance"),
        page=_int(args, "page", 1),
        per_page=_int(args, "per_page", DEFAULT_PER_PAGE),
        after=_int(args, "after", None, digits=19),  # SearchQuery checks it fits a sort key
        interval=_word(args, "interval", "day"),
        **filters,
    )
    check_labels(query, labels)
    return query


# Every parameter the UI's own links carry; anything else (notably url_for's "_external",
# "_scheme", "_anchor") is dropped so a crafted query string cannot shape a link.
LINK_PARAMS = (
    "q", *FILTERS, "verified", "rumor", "rumor_min", "rumor_max", "since", "until",
    "sort", "page", "per_page", "after", "interval", "lang",
)


def link_args(args: MultiDict) -> dict[str, list[str]]:
    """``args`` as keyword arguments for ``url_for``, known parameters only."""
    return {name: args.getlist(name) for name in LINK_PARAMS if name in args}


def args_with(args: MultiDict, **changes) -> MultiDict:
    """A copy of ``args`` with some parameters replaced (a list sets several values, None removes)."""
    result = MultiDict(args)
    for name, value in changes.items():
        result.poplist(name)
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            result.add(name, item)
    return result


def toggled(args: MultiDict, name: str, value: str) -> MultiDict:
    """``args`` with the filter ``name=value`` added, or removed if present; back to the first page."""
    if name == "rumor":
        new = None if is_active(args, "rumor", "likely") else "1"
    elif name in SINGLE_VALUED:
        new = None if is_active(args, name, value) else value
    else:
        values = args.getlist(name)
        new = [v for v in values if v != value] if value in values else values + [value]
    return args_with(args, **{name: new, "page": None, "after": None})


def is_active(args: MultiDict, name: str, value: str) -> bool:
    if name == "rumor":
        return value == "likely" and (args.get("rumor") or "").lower() in TRUE_VALUES
    if name in SINGLE_VALUED:
        return (args.get(name) or "").strip().lower() == value
    return value in args.getlist(name)
