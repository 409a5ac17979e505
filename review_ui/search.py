"""The search page: query box, filters, facets that toggle filters, histogram, hits, pager."""

from __future__ import annotations

from datetime import datetime
from itertools import chain

from flask import Blueprint, Response, redirect, render_template, request, url_for
from markupsafe import Markup

from core.schema import CHINA_TZ
from desk import export
from indexes.errors import IndexUnavailable
from indexes.query import FACETS, SORTS, QueryError
from indexes.results import search as run_search
from nlp.models import filter_labels

from review_ui import i18n, navigation, params
from review_ui.services import services

bp = Blueprint("search", __name__)

HIDE_SINGLE = ("cluster",)  # a "cluster" of one post is no duplicate: listed only when filtered on


@bp.get("/")
def index():
    query = result = error = None
    status = 200
    try:
        query = params.query_from_args(request.args, filter_labels(services().settings.models_dir), percent=True)
        result = run_search(services().store, services().index, query)
    except QueryError as err:
        error, status = i18n.error_message(err), 400
    except IndexUnavailable as err:  # outdated, or being rebuilt by hand: say so, not a 500
        error, status = i18n.gettext("index_unavailable", detail=i18n.error_message(err)), 503
    listed = result.facets.get("cluster", []) if result is not None else []
    i18n.cluster_names([*_selected("cluster"), *(cluster for cluster, _ in listed)])  # the chips' and the facet's, at once
    context = dict(query=query, result=result, error=error, sorts=SORTS, active=_active_filters(), form=_form_values(),
                   hits=[], facets=[], histogram=None, pages=[], numbered=True)
    if result is not None:
        context.update(
            # The one place anything from a post is marked safe: snippet_html is built
            # escaped by indexes.results, with only <mark> added around the matches.
            hits=[(hit, Markup(hit.snippet_html)) for hit in result.hits],
            facets=_facets(result),
            histogram=navigation.histogram(result, _url),
            pages=navigation.page_links(result, _url),
            numbered=not navigation.uses_cursor(query),
            last_page=navigation.last_page(result),
            export_url=url_for("search.export_csv", **params.link_args(params.args_with(request.args, page=None,
                                                                                          after=None))),
            export_max=export.MAX_ROWS,
        )
    return render_template("search.html", **context), status


@bp.get("/export.csv")
def export_csv():
    """Every page of the search's results (up to ``export.MAX_ROWS``), streamed as CSV. A
    query the search page refuses goes back to it, which says why."""
    try:
        query = params.query_from_args(request.args, filter_labels(services().settings.models_dir), percent=True)
        chunks = export.export_csv(services().store, services().index, query, export.MAX_ROWS,
                                   services().settings.own_places)
        first = next(chunks)  # the index's errors before the response starts
    except (QueryError, IndexUnavailable):
        return redirect(url_for("search.index", **params.link_args(request.args)))
    name = datetime.now(CHINA_TZ).strftime("crisiswatch-search-%Y%m%d-%H%M.csv")
    return Response(chain([first], chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _url(changes: dict) -> str:
    return url_for("search.index", **params.link_args(params.args_with(request.args, **changes)))


def _toggle_url(name: str, value: str) -> str:
    return url_for("search.index", **params.link_args(params.toggled(request.args, name, value)))


def _selected(param: str) -> list[str]:
    """The values of a filter parameter in this request, bounded."""
    values = request.args.getlist(param)[:1] if param in params.SINGLE_VALUED else request.args.getlist(param)
    return [v[: params.MAX_VALUE_CHARS] for v in dict.fromkeys(v.strip() for v in values) if v][: params.MAX_VALUES]


def _facets(page) -> list[dict]:
    """Each facet with every known value (count 0 when absent), the others the index found,
    and the values filtered on."""
    groups = []
    for name in FACETS:
        param = params.FACET_PARAMS[name]
        counts = dict(page.facets.get(name, []))
        # the rumor facet's values are the bands; "rumor" and "non-rumor" label corrections
        known = ["likely", "unlikely"] if name == "rumor" else i18n.known_values(name)
        selected = [] if param == "rumor" else _selected(param)
        items = []
        for value in dict.fromkeys([*known, *counts, *selected]):
            active = params.is_active(request.args, param, value)
            if name in HIDE_SINGLE and counts.get(value, 0) < 2 and not active:
                continue
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


def _active_filters() -> list[dict]:
    """Chips for the filters in force, each with a link that removes it."""
    chips = []
    for facet, param in params.FACET_PARAMS.items():
        if param == "rumor":
            if params.is_active(request.args, "rumor", "likely"):
                chips.append({"label": i18n.gettext("rumor_only"), "url": _toggle_url("rumor", "likely")})
            continue
        for value in _selected(param):
            shown = value.lower() if param == "verified" else value
            chips.append({"label": i18n.gettext("facet_" + facet) + i18n.gettext("sep") + i18n.label(facet, shown),
                          "url": _url({param: None, "page": None, "after": None}) if param == "verified"
                          else _toggle_url(param, value)})
    for param, sign in (("rumor_min", "≥"), ("rumor_max", "≤")):
        value = (request.args.get(param) or "").strip()
        if value:
            chips.append({"label": f"{i18n.gettext('field_rumor')} {sign} {value[:12]}%",
                          "url": _url({param: None, "page": None, "after": None})})
    for param in ("since", "until"):
        value = (request.args.get(param) or "").strip()
        if value:
            chips.append({"label": i18n.gettext(param) + i18n.gettext("sep") + value[: params.MAX_TIME_CHARS],
                          "url": _url({param: None, "page": None, "after": None})})
    return chips


CHECKBOXES = (("platform", "platform"), ("polarity", "polarity"), ("sentiment", "sentiment"), ("emotion", "emotion"),
              ("topic", "topics"))
HIDDEN = ("place", "cluster")  # filters set from facets only: kept when the form is sent again


def _time_field(name: str) -> dict:
    value = (request.args.get(name) or "")[: params.MAX_TIME_CHARS]
    # A date input drops a value with a time (an hour of the histogram); show it as one.
    return {"value": value, "type": "datetime-local" if "T" in value else "date"}


def _form_values() -> dict:
    """What the form shows: the raw parameters (bounded), so a bad value can be corrected."""
    args = request.args
    groups = []
    for name, facet in CHECKBOXES:
        selected = _selected(name)
        values = i18n.known_values(facet) + [v for v in selected if v not in i18n.known_values(facet)]
        groups.append({
            "name": name,
            "title": i18n.gettext(f"facet_{facet}"),
            "options": [(v, i18n.label(facet, v), v in selected) for v in values],
        })
    verified = (args.get("verified") or "").strip().lower()[: params.MAX_WORD_CHARS]
    rumor_range = {name: (args.get(name) or "").strip()[:12] for name in ("rumor_min", "rumor_max")}
    return {
        "q": (args.get("q") or "")[:1000],
        "since": _time_field("since"),
        "until": _time_field("until"),
        "sort": args.get("sort") or "relevance",
        "rumor": params.is_active(args, "rumor", "likely"),
        "per_page": (args.get("per_page") or "")[:6],
        "interval": (args.get("interval") or "")[: params.MAX_WORD_CHARS],
        "groups": groups,
        "verified": verified,
        "verified_options": [("", i18n.gettext("any"))] + [(v, i18n.label("verified", v)) for v in params.VERIFIED],
        "rumor_range": rumor_range,
        "hidden": [(name, value) for name in HIDDEN for value in _selected(name)],
        "any_selected": bool(verified or any(rumor_range.values())
                             or any(checked for g in groups for _, _, checked in g["options"])),
    }
