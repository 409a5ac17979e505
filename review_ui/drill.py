"""The drill director's page (``/drill/``, admins only): the replay's clock and state, its
steps (start, pause, resume, end), the scenario's injects with what was sent when, and the
drill report; and the 演练 banner that every page of a drill's home shows (``init_app``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for

from desk import drill_report, injects, replay as replays
from desk.clocks import load_clocks
from desk.drills import DRILL
from desk.errors import WorkflowError
from desk.outbox import ChannelConfigError, load_channels
from desk.rules import REPLAY_STEPS
from desk.scenario import load
from desk.states import ReplayState
from review_ui import i18n
from review_ui.auth import roles_required
from review_ui.database import session as _session
from review_ui.services import services

bp = Blueprint("drill", __name__, url_prefix="/drill")


@bp.before_request
@roles_required("admin")
def directors_only():
    """The director is an admin of the drill's home."""


@bp.get("/")
def index():
    found = replays.current(_session())
    if found is None:
        return render_template("drill.html", replay=None)
    scenario = scenario_of(found)
    now = datetime.now(timezone.utc)
    sent = replays.sent_injects(_session(), found)
    sides = {side.key: side.name for side in scenario.organisations}
    steps = [step for step, (sources, _) in REPLAY_STEPS.items() if found.state in sources]
    return render_template("drill.html", replay=found, scenario=scenario, offset=found.offset_at(now), sent=sent,
                           sides=sides, steps=steps, may_send=found.kind == DRILL and found.state != ReplayState.ENDED,
                           running=found.state == ReplayState.RUNNING, hms=hms)


@bp.post("/<step>")
def act(step: str):
    """A step of the replay (``desk.rules.REPLAY_STEPS``): run, pause, resume or end."""
    if step not in REPLAY_STEPS:
        abort(404)
    session = _session()
    found = _replay()
    try:
        getattr(replays, step)(session, found, actor=g.user.username)
    except WorkflowError as err:
        session.rollback()
        flash(i18n.error_message(err), "error")
    else:
        session.commit()
        flash(i18n.gettext(f"drill_done_{step}"), "ok")
    return redirect(url_for("drill.index"), code=303)


@bp.post("/injects/<inject_id>")
def send(inject_id: str):
    session = _session()
    found = _replay()
    if found.kind != DRILL:
        abort(404)
    try:
        replays.send_inject(session, found, inject_id, g.user.username, scenario=scenario_of(found),
                            channels=_channels())
    except WorkflowError as err:
        session.rollback()
        flash(i18n.error_message(err), "error")
    else:
        session.commit()
        flash(i18n.gettext("drill_sent", inject=inject_id), "ok")
    return redirect(url_for("drill.index"), code=303)


@bp.post("/report")
def report():
    """Make the drill report as things stand, keep it, and show it on the reports page."""
    session = _session()
    found = _replay()
    made = drill_report.make_report(session, services().store, found, scenario_of(found),
                                    load_clocks(services().settings.home / "clocks.toml"))
    kept = drill_report.keep(session, found, made, made_by=g.user.username)
    session.commit()
    return redirect(url_for("reports.show", report_id=kept.id), code=303)


def _channels() -> dict:
    """The channels file's channels (its team's that take notices get the inject); none
    while it is missing or wrong: the inject still shows on the team's pages."""
    try:
        return load_channels(services().settings.channels_file)
    except ChannelConfigError:
        return {}


def _replay():
    found = replays.current(_session())
    if found is None:
        abort(404)
    return found


def scenario_of(replay):
    """The replay's scenario: the copy in the home (a drill's), else the shipped one."""
    copy = services().settings.home / "scenario.toml"
    return _scenario(str(copy) if copy.is_file() else replay.scenario)


@lru_cache(maxsize=8)
def _scenario(source: str):
    """Read once per process: every page's banner names it, and a file has hundreds of entries."""
    return load(source)


def drill_title() -> str | None:
    """The scenario's title when this home plays a drill (the banner says so), else None."""
    if "drill_title" not in g:
        found = replays.current(_session())
        g.drill_title = scenario_of(found).title if found is not None and found.kind == DRILL else None
    return g.drill_title


def drill_ended():
    """This home's drill once it has ended (the banner says so and links its report), else None."""
    found = replays.current(_session()) if drill_title() else None
    return found if found is not None and found.state == ReplayState.ENDED else None


def team_injects() -> list:
    """The injects sent so far to the signed-in user's organisation in this drill's home,
    the newest first (every page shows the newest, the drill's incident page all of them,
    ``g.drill_incident_id``)."""
    if "team_injects" not in g:
        found = replays.current(_session()) if drill_title() and g.get("user") else None
        g.team_injects = [] if found is None else injects.received(_session(), found, scenario_of(found),
                                                                    g.user.org_id)
        g.drill_incident_id = found and found.incident_id
    return g.team_injects


def hms(span: timedelta) -> str:
    """Scenario time as the clock shows it: 5:07:09."""
    seconds = int(span.total_seconds())
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def init_app(app) -> None:
    app.context_processor(lambda: {"drill_title": drill_title, "drill_ended": drill_ended,
                                   "team_injects": team_injects})
