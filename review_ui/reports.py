"""The reports page (``desk.report_archive``): make a briefing (daily, special, flash, with
the options ``crisiswatch report`` takes), the reports the user may see, a report's page
with the report itself and its files, and sending it to the organisation's channels.

A report is made in the request (a demo-size one takes about a second). Who may: every
user sees the reports of their organisation, the scheduler's daily ones among them (an admin all);
``MAKERS`` make one, ``SENDERS`` send one. The report's HTML is shown in a sandboxed frame
from its own response, whose policy allows only its inline styles and data: images.
"""

from __future__ import annotations

from datetime import date, datetime, time
from io import BytesIO
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from desk import report_archive
from desk.clocks import load_clocks
from desk.errors import NotFound, WorkflowError
from desk.outbox import ChannelConfigError, load_channels
from desk.place_map import MAP_FILES
from desk.releases import get_incident
from desk.reports import FORMATS, make_report
from desk.tables import Incident, Organisation
from desk.vocabulary import REPORT_KINDS
from indexes.errors import IndexUnavailable
from indexes.query import QueryError, check_year, parse_time
from review_ui import i18n, params
from review_ui.database import actor, session as _session
from review_ui.services import services

bp = Blueprint("reports", __name__, url_prefix="/reports")

MAKERS = ("analyst", "drafter", "approver", "admin")  # as handle incidents, and the admin
SENDERS = ("publisher", "admin")  # as send releases out
# the report's own page in its frame: its inline styles and embedded images, nothing else
FRAMED_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
              "frame-ancestors 'self'")


@bp.get("/")
def index():
    session = _session()
    kept = report_archive.visible(session, g.user)
    orgs = {org.id: org.name for org in session.scalars(select(Organisation))}
    incidents = session.scalars(select(Incident).order_by(Incident.started_at.desc())).all()
    return render_template("reports.html", reports=kept, orgs=orgs, incidents=incidents, kinds=REPORT_KINDS,
                           may_make=g.user.has_role(*MAKERS))


@bp.post("/")
def make():
    if not g.user.has_role(*MAKERS):
        abort(403)
    back = url_for("reports.index")
    session = _session()
    try:
        kind, options = _options()
        incident = get_incident(session, options.pop("incident")) if kind == "special" else None
        settings = services().settings
        made = make_report(kind, services().store, services().index, session,
                           load_clocks(settings.home / "clocks.toml"), incident=incident,
                           places=settings.own_places, viewer=actor(), **options)
        kept = report_archive.keep(session, made, made_by=g.user.username, org_id=g.user.org_id,
                                   incident_id=incident.id if incident else None)
    except (WorkflowError, IndexUnavailable, QueryError) as err:
        session.rollback()
        flash(i18n.error_message(err), "error")
        return redirect(back, code=303)
    session.commit()
    return redirect(url_for("reports.show", report_id=kept.id), code=303)


def _options() -> tuple[str, dict]:
    """The form's kind and options, checked as ``crisiswatch report`` checks them."""
    form = request.form
    kind = form.get("kind", "")
    if kind not in REPORT_KINDS:
        abort(400)
    incident = form.get("incident", type=params.as_id)  # a bad id reads as none
    query = form.get("query", "").strip()[:500]
    day = _day(form.get("date", "").strip())
    since, until = parse_time(form.get("since")), parse_time(form.get("until"), end_of_day=True)
    report_archive.check_options(kind, incident=incident, query=query, day=day, since=since, until=until)
    if kind == "special":
        return kind, {"incident": incident}
    return kind, {"query": query, "day": day, "since": since, "until": until}


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(400, description=i18n.gettext("report_bad_date", value=value[:20]))
    check_year(datetime.combine(day, time()))  # a QueryError that says why
    return day


def _kept(report_id: int):
    try:
        return report_archive.get(_session(), g.user, report_id)
    except NotFound:
        abort(404)


@bp.get("/<int:report_id>")
def show(report_id: int):
    kept = _kept(report_id)
    session = _session()
    return render_template("report_page.html", report=kept, formats=FORMATS,
                           org=kept.org_id and session.get(Organisation, kept.org_id),
                           deliveries=report_archive.deliveries(session, kept), may_send=g.user.has_role(*SENDERS),
                           summary=kept.figures["summary"]["sentences"])


@bp.get("/<int:report_id>/file.<form>")
def download(report_id: int, form: str):
    """The report as a file of ``form``; ``?view=1``: the HTML shown in the report page's frame."""
    if form not in FORMATS:
        abort(404)
    kept = _kept(report_id)
    framed = form == "html" and request.args.get("view") == "1"
    china_map = Path(current_app.static_folder) / MAP_FILES
    made = report_archive.rendered(kept, form, china_map if china_map.is_dir() else None)
    response = send_file(BytesIO(made), as_attachment=not framed, download_name=report_archive.file_name(kept, form))
    response.content_type = FORMATS[form]  # as it is (send_file would add a second charset to text/html's)
    if framed:
        response.headers["Content-Security-Policy"] = FRAMED_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/<int:report_id>/send")
def send(report_id: int):
    if not g.user.has_role(*SENDERS):
        abort(403)
    kept = _kept(report_id)
    session = _session()
    back = url_for("reports.show", report_id=report_id)
    try:
        channels = load_channels(services().settings.channels_file)
        rows = report_archive.send(session, kept, session.get(Organisation, g.user.org_id), channels,
                                   actor=g.user.username)
    except (WorkflowError, ChannelConfigError) as err:
        session.rollback()
        flash(i18n.error_message(err), "error")
        return redirect(back, code=303)
    session.commit()
    flash(i18n.gettext("report_queued", channels=", ".join(row.channel for row in rows)), "info")
    return redirect(back, code=303)
