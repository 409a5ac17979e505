"""Logging in and out, the current user, and the checks every view relies on.

The signed session cookie holds only the token of a login session kept in the
database (``accounts.start_session``), which every request looks up: logging out ends
the session, and disabling a user or giving them a new password ends all of theirs, so
a copy of the cookie is refused from then on. A session also ends
``accounts.SESSION_LIFETIME`` after its login. Roles and the organisation are read from
the database on every request, so a permission change applies at once.

Failed logins are limited twice: per account (``accounts`` locks one after five), and
per client address (the ``login_limit`` setting, counted by Flask-Limiter over a moving
window), so that one address cannot try a password on every account in turn. Behind a
reverse proxy, ``trusted_proxies`` makes the client's address the one counted, not the
proxy's (which would make one person's failures everyone's).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import wraps

from flask import (Blueprint, abort, current_app, g, jsonify, make_response, redirect, render_template, request,
                   session, url_for)
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from limits import parse
from werkzeug.middleware.proxy_fix import ProxyFix

from core.settings import Settings
from core.store import utcnow
from desk import accounts, audit
from review_ui import i18n, login_limits  # noqa: F401 (login_limits: registers the default count's storage)
from review_ui.services import services

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = {"auth.login", "static", "api.healthz", "favicon"}  # healthz: for probes, it shows only a count
# Its storage: the app's RATELIMIT_STORAGE_URI. A storage that fails (a read-only disk, a
# store that is down) is logged and the limit skipped, not every login a 500: the
# per-account lock-out still holds.
limiter = Limiter(get_remote_address, strategy="moving-window", swallow_errors=True)


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user, as views and templates see it (``g.user``)."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    org_id: int
    org_name: str
    org_kind: str

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


@bp.before_app_request
def load_user():
    """Put the logged-in user in ``g.user`` (or None); send everyone else to the login
    page (the JSON API answers 401)."""
    g.user = _user_of_session()
    if g.user is None and request.endpoint not in OPEN_ENDPOINTS:
        return _login_needed()
    return None


def _user_of_session() -> CurrentUser | None:
    with services().sessions() as db:
        user = accounts.session_user(db, session.get("token"))
        if user is None:
            return None
        org = accounts.get_organisation(db, user.org_id)
        return CurrentUser(user.id, user.username, user.display_name, tuple(user.roles), org.id, org.name, org.kind)


def _login_needed():
    if request.path.startswith("/api/"):
        return jsonify(error="login required"), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(view):
    """Explicit form of what ``load_user`` already enforces for every view."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("user") is None:
            return _login_needed()
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str):
    """Only users holding at least one of ``roles``; others get 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                return _login_needed()
            if not g.user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another host (``//evil.example``, ``/\\evil``)."""
    if (target and target.startswith("/") and "\\" not in target
            and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)  # browsers drop tabs: "/\t/evil"
            and not target.startswith("//")):
        return target
    return url_for("search.index")


def _too_many_failures(limit: RequestLimit):
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60))
    page = render_template("login.html", error=i18n.gettext("login_address_limited", minutes=minutes),
                           username=request.form.get("username", ""))
    return make_response(page, 429)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CRISISWATCH_LOGIN_LIMIT"], methods=["POST"],
               exempt_when=lambda: current_app.config["CRISISWATCH_LOGIN_LIMIT"] == "off",
               deduct_when=lambda response: response.status_code == 401, on_breach=_too_many_failures)
def login():
    error = None
    if request.method == "POST":
        try:
            with services().sessions() as db:
                user = accounts.authenticate(db, request.form.get("username", ""), request.form.get("password", ""))
                if session.get("token"):  # a login over another (the next person at a shared computer) ends it
                    accounts.end_session(db, session["token"])
                token = accounts.start_session(db, user)
                db.commit()
        except accounts.LoginFailed as failed:
            if failed.locked_until:
                error = i18n.gettext("login_locked", minutes=_minutes_until(failed.locked_until))
            else:
                error = i18n.gettext("login_failed")
        else:
            session.clear()  # a fresh session (and CSRF token) for the logged-in user
            session["token"] = token
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")), code=303)
    page = render_template("login.html", error=error, username=request.form.get("username", ""))
    return page, 401 if error else 200


def _minutes_until(until) -> int:
    return max(1, math.ceil((until - utcnow().replace(tzinfo=None)).total_seconds() / 60))


@bp.post("/logout")
def logout():
    with services().sessions.begin() as db:
        accounts.end_session(db, session["token"])
        audit.record(db, g.user.username, "logout", f"user:{g.user.id}", org_id=g.user.org_id)
    session.clear()
    return redirect(url_for("auth.login"), code=303)


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """A form without its valid token (an expired session, a forged request): said in the
    UI's language, with what to do, instead of Flask-WTF's English reason."""
    page = render_template("error.html", code=400, title=i18n.gettext("error_title"),
                           message=i18n.gettext("csrf_failed"))
    return page, 400


def init_app(app, settings: Settings) -> None:
    if settings.login_limit != "off":
        try:
            parse(settings.login_limit)
        except ValueError:
            raise ValueError(f"CRISISWATCH_LOGIN_LIMIT {settings.login_limit!r} is not a limit such as "
                             "'30 per 15 minutes' (or 'off')") from None
    app.config.update(PERMANENT_SESSION_LIFETIME=accounts.SESSION_LIFETIME, CRISISWATCH_LOGIN_LIMIT=settings.login_limit,
                      RATELIMIT_STORAGE_URI=settings.login_limit_storage)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
    limiter.init_app(app)  # one limiter for the process: the last app made counts for all
    app.register_blueprint(bp)
