"""The administrator's pages: organisations, users and roles, the audit log, and the
status of the home (the report of `crisiswatch status`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from crawlers.jobs import JobError
from desk import accounts, audit
from desk.status import report
from desk.vocabulary import ORG_KINDS, ROLES
from indexes.errors import IndexUnavailable
from review_ui import i18n, params
from review_ui.auth import roles_required
from review_ui.services import services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@roles_required("admin")
def admins_only():
    """Every page and form here is for administrators only."""


@bp.get("/")
def index():
    with services().sessions() as db:
        orgs = accounts.list_organisations(db)
        return render_template("admin.html", orgs=orgs, org_names={org.id: org.name for org in orgs},
                               users=accounts.list_users(db), verification=audit.verify(db), roles=ROLES,
                               kinds=ORG_KINDS, levels=accounts.LEVELS_OF_KIND, lock_of=_lock_of)


@bp.get("/status")
def status():
    """Posts per platform stored, tagged and indexed, crawl jobs and their health, the models
    and the index: the figures of `crisiswatch status`, from the same function."""
    try:
        home = report(services().settings, services().store, services().index)
    except IndexUnavailable as err:  # outdated, or being rebuilt by hand: say so, not a 500
        error = i18n.gettext("index_unavailable", detail=i18n.error_message(err))
        return render_template("admin_status.html", home=None, error=error), 503
    except JobError as err:  # the jobs file, edited while the UI runs, is wrong: the same
        error = i18n.gettext("status_jobs_file", detail=i18n.error_message(err))
        return render_template("admin_status.html", home=None, error=error), 503
    started = {job["name"]: datetime.fromisoformat(job["last_run"]["started_at"])
               for job in home["jobs"] if job["last_run"]}
    trained = {task: model.get("trained_at") and datetime.fromisoformat(model["trained_at"])
               for task, model in home["precise_tier"]["models"].items()}
    return render_template("admin_status.html", home=home, started=started, trained=trained, error=None)


def _lock_of(user) -> datetime | None:
    """When the user's lock ends (aware UTC, for ``china_time``), if they are locked now."""
    return user.locked_until.replace(tzinfo=timezone.utc) if accounts.is_locked(user) else None


def _done(message_key: str, **values):
    flash(i18n.gettext(message_key, **values), "ok")
    return redirect(url_for("admin.index"), code=303)


def _refused(error: accounts.AccountError):
    flash(i18n.error_message(error), "error")
    return redirect(url_for("admin.index"), code=303)


@bp.post("/organisations")
def create_organisation():
    form = request.form
    try:
        with services().sessions.begin() as db:
            parent = None
            if form.get("parent"):
                parent = accounts.get_organisation(db, form.get("parent", type=params.as_id) or 0)
                if parent is None:
                    abort(400)
            org = accounts.create_organisation(db, form.get("name", ""), form.get("kind", ""), form.get("level", ""),
                                               parent, actor=g.user.username)
            name = org.name
    except accounts.AccountError as error:
        return _refused(error)
    return _done("admin_org_created", name=name)


@bp.post("/users")
def create_user():
    form = request.form
    try:
        with services().sessions.begin() as db:
            org = accounts.get_organisation(db, form.get("org", type=params.as_id) or 0)
            if org is None:
                abort(400)
            accounts.create_user(db, form.get("username", "").strip(), form.get("display_name", ""),
                                 form.get("password", ""), org, form.getlist("roles"), actor=g.user.username)
    except accounts.AccountError as error:
        return _refused(error)
    return _done("admin_user_created", username=form["username"].strip())


def _user_or_404(db, user_id: int):
    user = accounts.get_user(db, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/roles")
def set_roles(user_id: int):
    try:
        with services().sessions.begin() as db:
            user = _user_or_404(db, user_id)
            accounts.set_roles(db, user, request.form.getlist("roles"), actor=g.user.username)
            username = user.username
    except accounts.AccountError as error:
        return _refused(error)
    return _done("admin_roles_changed", username=username)


@bp.post("/users/<int:user_id>/unlock")
def unlock(user_id: int):
    with services().sessions.begin() as db:
        user = _user_or_404(db, user_id)
        accounts.unlock(db, user, actor=g.user.username)
        username = user.username
    return _done("admin_unlocked", username=username)


@bp.post("/users/<int:user_id>/active")
def set_active(user_id: int):
    """Disable (``active=0``) or enable (``active=1``) an account; disabling ends its sessions at once."""
    active = request.form.get("active")
    if active not in ("0", "1"):
        abort(400)
    try:
        with services().sessions.begin() as db:
            user = _user_or_404(db, user_id)
            accounts.set_active(db, user, active == "1", actor=g.user.username)
            username = user.username
    except accounts.AccountError as error:
        return _refused(error)
    return _done("admin_enabled" if active == "1" else "admin_disabled", username=username)


@bp.get("/audit.jsonl")
def export_audit():
    """The whole audit log as JSON Lines, as a download; the export is itself audited."""
    with services().sessions.begin() as db:
        audit.record(db, g.user.username, "audit_exported", org_id=g.user.org_id)
    with services().sessions() as db:
        lines = [json.dumps(entry, ensure_ascii=False) + "\n" for entry in audit.export(db)]
        audit.anchor(db)  # the export's last entry, anchored
    return Response(lines, mimetype="application/x-ndjson",
                    headers={"Content-Disposition": "attachment; filename=audit-log.jsonl"})
