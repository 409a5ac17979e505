"""The search page: query box, filters, facets that toggle filters, day histogram, hits."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup

from indexes.query import FACETS, MAX_PAGE, SORTS, QueryError
from indexes.results import search as run_search

from review_ui import i18n, params
from review_ui.services import services

bp = Blueprint("search", __name__)

BAR_STEPS = 20  # bar widths in 5 % steps: CSS classes, since CSP forbids inline styles


@bp.get("/")
def index():
    query = result = error = None
    try:
        query = params.query_from_args(request.args)
        result = run_search(services().store, services().index, query)
    except QueryError as err:
        error = i18n.error_message(str(err))
    context = dict(query=query, result=result, error=error, sorts=SORTS, active=_active_filters(), form=_form_values(),
                   hits=[], facets=[], days=[], pages=[])
    if result is not None:
        context.update(
            # The one place anything from a post is marked safe: snippet_html is built
            # escaped by indexes.results, with only <mark> added around the matches.
            hits=[(hit, Markup(hit.snippet_html)) for hit in result.hits],
            facets=_facets(result),
            days=_days(result),
            pages=_page_links(result),
        )
    return render_template("search.html", **context), 400 if error else 200


def _url(changes: dict) -> str:
    return url_for("search.index", **params.link_args(params.args_with(request.args, **changes)))


def _toggle_url(name: str, value: str) -> str:
    return url_for("search.index", **params.link_args(params.toggled(request.args, name, value)))


def _facets(page) -> list[dict]:
    """Each facet with every known value (count 0 when absent) plus any others the index found."""
    groups = []
    for name in FACETS:
        param = params.FACET_PARAMS[name]
        counts = dict(page.facets.get(name, []))
        order = i18n.known_values(name) + [v for v in counts if v not in i18n.known_values(name)]
        items = []
        for value in order:
            active = params.is_active(request.args, param, value)
            # Only "likely" can be filtered on: the query model has a rumor-only switch.
            clickable = name != "rumor" or value == "likely"
            items.append({
                "value": value,
                "label": i18n.label(name, value),
                "count": counts.get(value, 0),
                "active": active,
                "url": _toggle_url(param, value) if clickable else None,
            })
        groups.append({"name": name, "title": i18n.gettext(f"facet_{name}"), "items": items})
    return groups


def _days(page) -> list[dict]:
    top = max((count for _, count in page.days), default=0)
    return [
        {
            "day": day,
            "count": count,
            "step": max(1, round(count / top * BAR_STEPS)) * (100 // BAR_STEPS) if top else 0,
            "url": _url({"since": day, "until": day, "page": None}),
        }
        for day, count in page.days
    ]


def _page_links(page) -> list[dict]:
    """Previous, a window of page numbers around the current one, next."""
    current, last = page.query.page, min(page.pages, MAX_PAGE)
    if last <= 1:
        return []
    numbers = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    links = []
    if current > 1:
        links.append({"label": i18n.gettext("prev"), "url": _url({"page": str(current - 1)}), "rel": "prev"})
    previous = 0
    for number in numbers:
        if number - previous > 1:
            links.append({"label": "…", "url": None})
        links.append({"label": str(number), "url": None if number == current else _url({"page": str(number)}),
                      "current": number == current})
        previous = number
    if current < last:
        links.append({"label": i18n.gettext("next"), "url": _url({"page": str(current + 1)}), "rel": "next"})
    return links


def _active_filters() -> list[dict]:
    """Chips for the filters in force, each with a link that removes it."""
    chips = []
    for facet, param in params.FACET_PARAMS.items():
        if param == "rumor":
            if params.is_active(request.args, "rumor", "likely"):
                chips.append({"label": i18n.gettext("rumor_only"), "url": _toggle_url("rumor", "likely")})
            continue
        for value in dict.fromkeys(request.args.getlist(param)):
            if value.strip():
                chips.append({"label": i18n.gettext("facet_" + facet) + i18n.gettext("sep") + i18n.label(facet, value),
                              "url": _toggle_url(param, value)})
    for param in ("since", "until"):
        value = request.args.get(param, "").strip()
        if value:
            chips.append({"label": i18n.gettext(param) + i18n.gettext("sep") + value[: params.MAX_TIME_CHARS],
                          "url": _url({param: None, "page": None})})
    return chips


def _form_values() -> dict:
    """What the form shows: the raw parameters (bounded), so a bad value can be corrected."""
    args = request.args
    groups = []
    for name, facet in (("platform", "platform"), ("sentiment", "sentiment"), ("topic", "topics")):
        selected = [v for v in dict.fromkeys(args.getlist(name)) if v.strip()][: params.MAX_VALUES]
        values = i18n.known_values(facet) + [v for v in selected if v not in i18n.known_values(facet)]
        groups.append({
            "name": name,
            "title": i18n.gettext(f"facet_{facet}"),
            "options": [(v, i18n.label(facet, v), v in selected) for v in values],
        })
    return {
        "q": (args.get("q") or "")[:1000],
        "since": (args.get("since") or "")[: params.MAX_TIME_CHARS],
        "until": (args.get("until") or "")[: params.MAX_TIME_CHARS],
        "sort": args.get("sort") or "relevance",
        "rumor": params.is_active(args, "rumor", "likely"),
        "per_page": (args.get("per_page") or "")[:6],
        "groups": groups,
        "any_selected": any(checked for g in groups for _, _, checked in g["options"]),
    }
