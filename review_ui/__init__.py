"""The review UI: a Flask application for analysts (search, post pages, a JSON API) and
the administrator (organisations, users, the audit log), behind a login.

``create_app(settings)`` opens the store and the embedded index of the settings' home;
tests and the command line may pass their own. Posts are untrusted: templates are
autoescaped, only the index's pre-escaped snippets are marked safe, and every response
carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import secrets

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from core.settings import Settings
from core.store import Store
from desk.database import open_sessions
from indexes.backends import IndexBackend, open_index
from nlp.topics import load_taxonomy
from review_ui import (admin, alerts, api, auth, database, drill, formatting, i18n, params, posts, releases,
                       reports, search, spread, stories)
from review_ui.services import EXTENSION, Services

CSP = (
    "default-src 'self'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Internal search URLs must not leak to the sites of the original posts.
    "Referrer-Policy": "same-origin",
}


class SafeJSONProvider(DefaultJSONProvider):
    """JSON with ``<``, ``>``, ``&`` and ``'`` as \\u escapes: the same data, but no raw
    markup in the bytes, so a post's text cannot act as HTML if the JSON is ever sniffed
    or embedded in a page."""

    ensure_ascii = False

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        return (
            text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").replace("'", "\\u0027")
        )


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits up to the largest id the database holds,
    so a longer number is a 404, not an overflow in the database, and ``/posts/١`` is not
    post 1 (werkzeug's ``\\d+`` takes every script's digits)."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", params.MAX_ID)
        super().__init__(map, *args, **kwargs)


# the most a request may send: the longest form (a 20,000-character body, 9 bytes a
# Chinese character once form-encoded) is under 200 KB; a larger body is refused (413)
# before it is read, instead of being held in memory whole
MAX_REQUEST_BYTES = 1024 * 1024


def secret_key(settings: Settings) -> str:
    """The key that signs sessions and CSRF tokens: made once per home, readable only by its owner."""
    path = settings.home / "secret_key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def create_app(settings: Settings, store: Store | None = None, index: IndexBackend | None = None) -> Flask:
    app = Flask(__name__)
    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.update(SECRET_KEY=secret_key(settings), SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES)
    CSRFProtect(app)  # every form that changes something carries a token tied to the session
    app.json = SafeJSONProvider(app)
    store = store if store is not None else Store(settings.database_url)
    app.extensions[EXTENSION] = Services(
        settings=settings,
        store=store,
        index=index if index is not None else open_index(settings),
        topic_labels={t.label: (t.zh, t.en) for t in load_taxonomy()},
        sessions=open_sessions(store.engine, settings.home),
    )
    i18n.init_app(app)
    formatting.init_app(app)
    auth.init_app(app, settings)  # before the other blueprints: its check runs before their views
    database.init_app(app)
    drill.init_app(app)
    for blueprint in (search.bp, posts.bp, spread.bp, stories.bp, releases.bp, reports.bp, alerts.bp, api.bp,
                      admin.bp, drill.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/favicon.ico", "favicon", _no_favicon)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_security_headers)
    return app


def _no_favicon():
    """Browsers ask for /favicon.ico whatever the page names (base.html names the SVG
    icon): an empty answer, not a login redirect or a 404 in the logs."""
    return "", 204


def _security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _http_error(error: HTTPException):
    """Errors as JSON under the API, else as a page in the UI language (an error that
    carries its own response, as the login limit's does, keeps it). A server error drops
    the request's session first: a failed flush leaves it unusable for the page's top bar."""
    if error.response is not None:
        return error.response
    code = error.code or 500
    if code >= 500:
        database.close_session(error)
    if request.path.startswith("/api/") or request.path == "/healthz":
        return jsonify(error=error.name), code
    key = {404: "not_found", 400: "bad_request", 403: "forbidden", 413: "too_large"}.get(
        code, "server_error" if code >= 500 else None)
    message = i18n.gettext(key) if key else error.name
    title = i18n.gettext("not_found_title") if code == 404 else i18n.gettext("error_title")
    reason = error.description if error.description != type(error).description else None  # said by the view
    return render_template("error.html", code=code, title=title, message=message, reason=reason), code
