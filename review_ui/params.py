"""Query-string parameters -> ``SearchQuery``, shared by the search page and the JSON API.

``SearchQuery`` validates the query itself; here the raw strings are bounded first (how
many values, how long) so that nothing unbounded reaches it or an error message.
Every failure is a ``QueryError`` with an English message (``i18n`` translates it).
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from indexes.query import QueryError, SearchQuery, parse_time

MAX_VALUES = 20
MAX_VALUE_CHARS = 64
MAX_TIME_CHARS = 40
DEFAULT_PER_PAGE = 20
TRUE_VALUES = ("1", "on", "true", "yes")

# Query-string name -> SearchQuery field, for the repeatable filters.
FILTERS = {"platform": "platforms", "sentiment": "sentiments", "topic": "topics"}
# Facet name (as the index returns it) -> query-string name.
FACET_PARAMS = {"platform": "platform", "sentiment": "sentiment", "topics": "topic", "rumor": "rumor"}


def _values(args: MultiDict, name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))
    if len(values) > MAX_VALUES:
        raise QueryError(f"too many values for {name} (at most {MAX_VALUES})")
    if any(len(v) > MAX_VALUE_CHARS for v in values):
        raise QueryError(f"a value of {name} is too long (at most {MAX_VALUE_CHARS} characters)")
    return values


def _int(args: MultiDict, name: str, default: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    # isdigit() alone accepts other scripts' digits and int() accepts "1_0"; be strict.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise QueryError(f"{name} must be a whole number")
    return int(raw)


def _time(args: MultiDict, name: str, end_of_day: bool):
    raw = (args.get(name) or "").strip()
    if len(raw) > MAX_TIME_CHARS:
        raise QueryError(f"{raw[:MAX_TIME_CHARS]!r}… is not a date")
    return parse_time(raw, end_of_day=end_of_day)


def query_from_args(args: MultiDict) -> SearchQuery:
    """The search described by ``args``; raises ``QueryError``."""
    filters = {field: _values(args, name) for name, field in FILTERS.items()}
    return SearchQuery(
        text=(args.get("q") or "").strip(),
        rumor=(args.get("rumor") or "").lower() in TRUE_VALUES,
        since=_time(args, "since", end_of_day=False),
        until=_time(args, "until", end_of_day=True),
        sort=(args.get("sort") or "relevance").strip(),
        page=_int(args, "page", 1),
        per_page=_int(args, "per_page", DEFAULT_PER_PAGE),
        **filters,
    )


# Every parameter the UI's own links carry; anything else (notably url_for's "_external",
# "_scheme", "_anchor") is dropped so a crafted query string cannot shape a link.
LINK_PARAMS = ("q", "platform", "sentiment", "topic", "rumor", "since", "until", "sort", "page", "per_page", "lang")


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
    """``args`` with the filter ``name=value`` added, or removed if present; back to page 1."""
    values = args.getlist(name)
    if name == "rumor":
        new = None if (args.get("rumor") or "").lower() in TRUE_VALUES else "1"
    else:
        new = [v for v in values if v != value] if value in values else values + [value]
    return args_with(args, **{name: new, "page": None})


def is_active(args: MultiDict, name: str, value: str) -> bool:
    if name == "rumor":
        return value == "likely" and (args.get("rumor") or "").lower() in TRUE_VALUES
    return value in args.getlist(name)
