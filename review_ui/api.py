"""The JSON API: ``/api/search`` (the search page's parameters) and ``/healthz``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from indexes.errors import IndexUnavailable
from indexes.query import QueryError
from indexes.results import search as run_search
from indexes.serialize import page_as_dict
from nlp.models import filter_labels

from review_ui import i18n, params
from review_ui.services import services

bp = Blueprint("api", __name__)


@bp.get("/api/search")
def search():
    try:
        query = params.query_from_args(request.args, filter_labels(services().settings.models_dir))
    except QueryError as err:
        return jsonify(error=i18n.error_message(err)), 400
    try:
        return jsonify(page_as_dict(run_search(services().store, services().index, query)))
    except IndexUnavailable as err:
        return jsonify(error=i18n.gettext("index_unavailable", detail=i18n.error_message(err))), 503


@bp.get("/healthz")
def healthz():
    try:
        stored = sum(c.stored for c in services().store.counts())
    except SQLAlchemyError as err:
        return jsonify(status="error", error=type(err).__name__), 503
    return jsonify(status="ok", posts=stored)
