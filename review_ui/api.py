"""The JSON API: ``/api/search`` (the search page's parameters) and ``/healthz``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from indexes.query import FACETS, QueryError
from indexes.results import search as run_search

from review_ui import i18n, params
from review_ui.formatting import iso_time
from review_ui.services import services

bp = Blueprint("api", __name__)


@bp.get("/api/search")
def search():
    try:
        query = params.query_from_args(request.args)
    except QueryError as err:
        return jsonify(error=i18n.error_message(str(err))), 400
    page = run_search(services().store, services().index, query)
    return jsonify(
        total=page.total,
        page=query.page,
        per_page=query.per_page,
        pages=page.pages,
        hits=[_hit(hit) for hit in page.hits],
        facets={name: [{"value": v, "count": n} for v, n in page.facets.get(name, [])] for name in FACETS},
        days=[{"day": day, "count": n} for day, n in page.days],
    )


def _hit(hit) -> dict:
    post = hit.post
    return {
        "id": post["id"],
        "platform": post["platform"],
        "title": post["title"],
        "text": post["text"],
        "snippet_html": hit.snippet_html,
        "created_at": iso_time(post["created_at"]),
        "url": post["url"],
        "author_name": post["author_name"],
        "tags": post["tags"],
    }


@bp.get("/healthz")
def healthz():
    try:
        stored = sum(c.stored for c in services().store.counts())
    except SQLAlchemyError as err:
        return jsonify(status="error", error=type(err).__name__), 503
    return jsonify(status="ok", posts=stored)
