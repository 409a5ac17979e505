"""Links that move through a result: the histogram (day, hour or minute) and the pager.

Both take ``url``, a function from parameter changes to a link of the current search.
Relevance pages are numbered (offsets); newest and engagement go page by page with the
cursor the index returns (``after``), which stays correct however deep one goes.
"""

from __future__ import annotations

from collections.abc import Callable

from desk.dashboard import continuous
from indexes.query import INTERVALS, MAX_PAGE, MAX_RELEVANCE_DEPTH
from review_ui.i18n import gettext

# Bar widths in 5 % steps from zero: CSS classes, since CSP forbids inline styles. A bar
# with posts too few for a step still shows (the CSS gives it 2 px), never as a 5 % bar.
BAR_STEPS = 20
CURSOR_SORTS = ("newest", "engagement")

Url = Callable[[dict], str]


def _bar_range(key: str, interval: str) -> dict:
    """since/until of one bar: a day (``YYYY-MM-DD``), an hour (``YYYY-MM-DDTHH``) or a minute
    (``YYYY-MM-DDTHH:MM``)."""
    if interval == "minute":
        return {"since": key, "until": f"{key}:59"}
    if interval == "hour":
        return {"since": f"{key}:00", "until": f"{key}:59:59"}
    return {"since": key, "until": key}


def histogram(page, url: Url) -> dict:
    """The bars of the page's histogram, and the links that switch between day, hour and minute."""
    interval = page.query.interval
    counts = dict(page.histogram)
    top = max(counts.values(), default=0)
    bars = [
        {
            "key": key,
            "label": key.replace("T", " ") + (":00" if interval == "hour" else ""),
            "count": count,
            "step": round(count / top * BAR_STEPS) * (100 // BAR_STEPS) if top else 0,
            "url": url({**_bar_range(key, interval), "page": None, "after": None}),
        }
        for key, count in ((key, counts.get(key, 0)) for key in continuous(list(counts), interval))
    ]
    switch = [
        {"label": gettext(f"interval_{name}"), "url": None if name == interval else url({"interval": name})}
        for name in INTERVALS
    ]
    return {"title": gettext(f"histogram_{interval}"), "bars": bars, "switch": switch}


def uses_cursor(query) -> bool:
    return query.sort in CURSOR_SORTS


def page_links(page, url: Url) -> list[dict]:
    return _cursor_links(page, url) if uses_cursor(page.query) else _numbered_links(page, url)


def last_page(page) -> int:
    """The last page numbered paging reaches: the pages of the result, up to the page
    limit and the depth relevance ranking goes to (the rest are reached by sorting)."""
    query = page.query
    return min(page.pages, MAX_PAGE, MAX_RELEVANCE_DEPTH // query.per_page if query.ranked else MAX_PAGE)


def _numbered_links(page, url: Url) -> list[dict]:
    """Previous, a window of page numbers around the current one, next."""
    current = page.query.page
    last = last_page(page)
    if last <= 1 and current <= 1:
        return []
    numbers = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    def to(number: int) -> str:
        return url({"page": str(number), "after": None})

    links = []
    if current > 1:
        links.append({"label": gettext("prev"), "url": to(current - 1), "rel": "prev"})
    previous = 0
    for number in numbers:
        if number - previous > 1:
            links.append({"label": "…", "url": None})
        links.append({"label": str(number), "url": None if number == current else to(number), "current": number == current})
        previous = number
    if current < last:
        links.append({"label": gettext("next"), "url": to(current + 1), "rel": "next"})
    return links


def _cursor_links(page, url: Url) -> list[dict]:
    """"First page" once past it, and "next page" by the cursor; no page numbers."""
    query = page.query
    links = []
    if query.after is not None or query.page > 1:
        links.append({"label": gettext("first_page"), "url": url({"after": None, "page": None}), "rel": "first"})
    if page.next_after is not None:  # the index gives no cursor on the last page
        links.append({"label": gettext("next_page"), "url": url({"after": str(page.next_after), "page": None}),
                      "rel": "next"})
    return links
