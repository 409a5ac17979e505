"""Early warning in the UI: the alerts of the user's organisation (all for an admin), an
alert's evidence and its handling (研判, 处置), the monitoring schemes with their rules,
and the count of open alerts that the top bar polls (``static/alerts.js``).

Every rule is ``desk.alerts``'s: who sees an alert, what a step allows. A user whose roles
do not handle alerts gets 403 on every page; an alert or scheme of another organisation
is a 403 too (its id says nothing that the list does not).
"""

from __future__ import annotations

import math
from datetime import datetime

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for

from core.schema import PLATFORMS
from core.store import utcnow
from desk import accounts, alert_outbox, alerts, clocks, releases as flow
from desk.alert_rules import KINDS, LEVELS, SENTIMENTS, duration_label, parse_duration
from desk.errors import Invalid, NotFound, WorkflowError
from desk.outbox import ChannelConfigError, load_channels
from desk.transmitters import TRANSMITTERS
from desk.states import AlertState
from desk.tables import AlertRecipient, AlertRule, AlertScheme, Incident, Organisation, Release, User
from indexes.query import QueryError, parse_time
from review_ui import i18n, params
from review_ui.database import actor as _actor, session as _session
from review_ui.formatting import china_time
from review_ui.services import services

bp = Blueprint("alerts", __name__)

STEPS = ("acknowledge", "assign", "answer", "close", "reopen")
DURATIONS = ("window", "baseline", "cool_down")
# every kind's numbers besides its durations, with their defaults: the form has a field for
# each, and the desk refuses one that the rule's kind does not take
NUMBERS = {name: default for kind in KINDS.values() for name, default in kind.defaults.items()
           if name not in DURATIONS and isinstance(default, (int, float))}


bp.add_app_template_global(alerts.handles_alerts, "handles_alerts")
bp.add_app_template_filter(datetime.fromisoformat, "from_iso")


@bp.app_template_global()
def open_alerts() -> int:
    """The count in the top bar as the page is made (alerts.js keeps it up to date)."""
    return alerts.open_count(_session(), g.user)


@bp.app_template_global()
def alert_key(rule: AlertRule, alert) -> str:
    """What an alert is about: a spike's or share's window in words (its key is the window
    as ``duration_label`` writes it, 75s), else its key (the words, the account)."""
    window = rule.params.get("window")
    if rule.kind in ("spike", "share") and window and alert.key == duration_label(window):
        return i18n.duration(window, exact=True)
    return alert.key


@bp.app_template_global()
def incident_alerts(incident: Incident, releases: list[Release]) -> list:
    """For the incident page: the alerts linked to it or answered by its releases that the
    user sees, each with its rule and the times from its first post to the published answer."""
    found = alerts.incident_alerts(_session(), g.user, incident, [release.id for release in releases])
    return [(alert, rule, alerts.response_times(alert, published)) for alert, rule, published in found]


@bp.app_template_global()
def alert_figure(kind: str, name: str, value) -> tuple[str, str]:
    """A rule's option (``kind`` rule) or a figure of an alert's evidence (``evidence``) as
    people read it, with its label: durations as 15 分钟, sentiments and platforms by their
    labels, a time in China time, yes or no."""
    label = i18n.gettext(f"alert_{kind}_{name}")
    label = name if label == f"alert_{kind}_{name}" else label
    comma = "、" if i18n.current_lang() == "zh" else ", "
    if kind == "rule" and name in DURATIONS:
        return label, i18n.duration(value, exact=True)
    if name.endswith("_s"):
        return label, i18n.duration(value)
    if name == "sentiments":
        return label, comma.join(i18n.label("sentiment", code) for code in value)
    if name == "platform":
        return label, i18n.label("platform", value)
    if name == "due":
        return label, china_time(datetime.fromisoformat(value))
    if isinstance(value, bool):
        return label, i18n.gettext("alert_yes" if value else "alert_no")
    if name == "baseline":  # the posts expected (the rule's baseline is a duration)
        return label, f"{value:.1f}"
    return label, comma.join(map(str, value)) if isinstance(value, list) else str(value)


@bp.before_request
def _handlers_only():
    if not alerts.handles_alerts(g.user):
        abort(403)


def _scheme(scheme_id: int) -> AlertScheme:
    scheme = _session().get(AlertScheme, scheme_id)
    if scheme is None or scheme.removed_at is not None:
        abort(404)
    if not alerts.may_handle(g.user, scheme):
        abort(403)
    return scheme


def _alert(alert_id: int):
    try:
        alert = alerts.get_alert(_session(), alert_id)
    except NotFound:
        abort(404)
    rule = _session().get(AlertRule, alert.rule_id)
    scheme = _session().get(AlertScheme, rule.scheme_id)
    if not alerts.may_handle(g.user, scheme, alert):
        abort(403)
    return alert, rule, scheme


def _done(target: str):
    _session().commit()
    return redirect(target, code=303)


def _refused(err: WorkflowError, target: str):
    """A refusal of the desk: nothing of the step is kept, the page it came from says why."""
    _session().rollback()
    flash(i18n.error_message(err), "error")
    return redirect(target, code=303)


def _org_names() -> dict[int, str]:
    return {org.id: org.name for org in _session().query(Organisation).all()}


# -- the count in the top bar ------------------------------------------------------------

@bp.get("/api/alerts/count")
def count():
    return jsonify(open=alerts.open_count(_session(), g.user))


# -- alerts -------------------------------------------------------------------------------

@bp.get("/alerts/")
def index():
    state = request.args.get("state", "")
    level = request.args.get("level", "")
    if state not in ("", *AlertState) or level not in ("", *LEVELS):
        abort(400)
    found = alerts.alerts_for(_session(), g.user, [state] if state else (), [level] if level else ())
    return render_template("alerts.html", alerts=found, state=state, level=level, states=list(AlertState),
                           levels=LEVELS, now=utcnow(), overdue=alerts.overdue, orgs=_org_names())


@bp.get("/alerts/<int:alert_id>")
def show(alert_id: int):
    alert, rule, scheme = _alert(alert_id)
    session = _session()
    posts = services().store.get_posts(alert.post_ids)
    org = None if "admin" in g.user.roles else session.get(Organisation, g.user.org_id)
    return render_template(
        "alerts_show.html", alert=alert, rule=rule, scheme=scheme, orgs=_org_names(),
        posts=[posts[i] for i in alert.post_ids if i in posts], overdue=alerts.overdue(alert, utcnow()),
        users=accounts.list_users(session, org), releases=flow.visible_releases(session, _actor()),
        assignee=alert.assignee_id and session.get(User, alert.assignee_id),
        answer=alert.release_id and session.get(Release, alert.release_id),
        incident=alert.incident_id and session.get(Incident, alert.incident_id),
        incidents=alerts.incidents_seen(session, g.user),
        escalated_to=alert.escalated_to_org_id and session.get(Organisation, alert.escalated_to_org_id),
    )


@bp.post("/alerts/<int:alert_id>/<step>")
def act(alert_id: int, step: str):
    if step not in STEPS:
        abort(404)
    alert, _, _ = _alert(alert_id)
    back = url_for("alerts.show", alert_id=alert_id)
    session = _session()
    actor = g.user.username
    try:
        if step == "acknowledge":
            alerts.acknowledge(session, alert, actor=actor)
        elif step == "assign":
            _assign(alert)
        elif step == "answer":
            release = session.get(Release, request.form.get("release", 0, type=params.as_id) or 0)
            if release is None or release not in flow.visible_releases(session, _actor()):
                abort(400)
            alerts.answer(session, alert, release, actor=actor)
        elif step == "close":
            alerts.close(session, alert, actor=actor)
        else:
            alerts.reopen(session, alert, actor=actor)
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)


def _assign(alert) -> None:
    """To a user (of the user's organisation; any for an admin) or an organisation, due by
    the form's time (China time) or the shortest clock from now."""
    session = _session()
    now = utcnow()
    try:
        due = parse_time(request.form.get("due", "")) if request.form.get("due", "").strip() else None
    except QueryError as err:
        raise Invalid("schedule_time", error=err) from None
    if due is None:
        due = alerts.default_due([c.hours for c in clocks.load_clocks(services().settings.home / "clocks.toml")], now)
    user = org = None
    if request.form.get("user"):
        user = accounts.find_user(session, request.form["user"])
        if user is None or not ("admin" in g.user.roles or user.org_id == g.user.org_id):
            raise Invalid("unknown_user", user=request.form["user"])
    if request.form.get("org"):
        org = session.get(Organisation, request.form.get("org", 0, type=params.as_id) or 0)
        if org is None:
            raise Invalid("unknown_org", org=request.form["org"])
    alerts.assign(session, alert, due, user=user, org=org, actor=g.user.username, now=now)


@bp.post("/alerts/<int:alert_id>/incident")
def open_incident(alert_id: int):
    """Open an incident from the alert, named and searched as its scheme, and link them."""
    alert, _, scheme = _alert(alert_id)
    session = _session()
    try:
        incident = flow.create_incident(session, _actor(), scheme.name, scheme.text)
        alerts.link_incident(session, alert, incident, user=g.user, actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, url_for("alerts.show", alert_id=alert_id))
    return _done(url_for("releases.incident", incident_id=incident.id))


@bp.post("/alerts/<int:alert_id>/link")
def link_incident(alert_id: int):
    """Link the alert to an incident the user sees."""
    alert, _, _ = _alert(alert_id)
    session = _session()
    incident = session.get(Incident, request.form.get("incident", 0, type=params.as_id) or 0)
    if incident is None:
        abort(400)
    back = url_for("alerts.show", alert_id=alert_id)
    try:
        alerts.link_incident(session, alert, incident, user=g.user, actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)


# -- monitoring schemes and their rules -----------------------------------------------------

@bp.get("/alerts/schemes/")
def schemes():
    session = _session()
    found = [s for s in alerts.list_schemes(session) if alerts.may_handle(g.user, s)]
    return render_template("alerts_schemes.html", schemes=found, orgs=_org_names(), platforms=PLATFORMS,
                           rules={s.id: alerts.list_rules(session, s) for s in found},
                           organisations=accounts.list_organisations(session))


def _scheme_form() -> tuple[str, str, list[str], list[str]]:
    form = request.form
    places = [place.strip() for place in form.get("places", "").split(",") if place.strip()]
    platforms = [platform for platform in form.getlist("platform") if platform in PLATFORMS]
    return form.get("name", ""), form.get("query", "").strip(), platforms, places


@bp.post("/alerts/schemes/")
def add_scheme():
    session = _session()
    org_id = request.form.get("org", 0, type=params.as_id) if "admin" in g.user.roles else g.user.org_id
    owner = session.get(Organisation, org_id or 0)
    if owner is None:
        abort(400)
    name, text, platforms, places = _scheme_form()
    try:
        scheme = alerts.add_scheme(session, name, owner, text, platforms, places, actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, url_for("alerts.schemes"))
    return _done(url_for("alerts.scheme", scheme_id=scheme.id))


@bp.get("/alerts/schemes/<int:scheme_id>")
def scheme(scheme_id: int):
    found = _scheme(scheme_id)
    session = _session()
    return render_template("alerts_scheme.html", scheme=found, rules=alerts.list_rules(session, found),
                           kinds=KINDS, numbers=NUMBERS, sentiments=SENTIMENTS, orgs=_org_names(),
                           platforms=PLATFORMS, recipients=alert_outbox.recipients(session, found),
                           users={user.id: user for user in accounts.list_users(session)}, channels=_notice_channels())


@bp.post("/alerts/schemes/<int:scheme_id>/recipients")
def add_recipient(scheme_id: int):
    """A channel of an organisation (for one of its people, whose quiet hours apply) that
    the scheme's alerts go to; or a department copied when one is escalated."""
    found = _scheme(scheme_id)
    session = _session()
    form = request.form
    org = session.get(Organisation, form.get("org", 0, type=params.as_id) or 0)
    user = session.get(User, form.get("user", 0, type=params.as_id) or 0) if form.get("user") else None
    channel = form.get("channel", "").strip() or None
    on_escalation = form.get("on_escalation") == "on"
    if org is None or (user is not None and user.org_id != org.id) or (channel and len(channel) > 100):
        abort(400)
    back = url_for("alerts.scheme", scheme_id=scheme_id)
    if channel is None and not on_escalation:
        flash(i18n.gettext("alert_recipient_channel"), "error")
        return redirect(back, code=303)
    try:
        alert_outbox.add_recipient(session, found, org, channel, user and user.id, on_escalation,
                                   actor=g.user.username, channels=_channels())
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)


def _channels() -> dict:
    """The channels file's channels; a file missing or wrong is a refusal that says so."""
    try:
        return load_channels(services().settings.channels_file)
    except ChannelConfigError as err:
        raise Invalid("channels_file", error=err) from None


def _notice_channels() -> dict[str, list[str]]:
    """Each organisation's channels in the channels file that take notices, for the form to
    choose from; none while the file is missing or wrong (adding a recipient says why)."""
    try:
        found = load_channels(services().settings.channels_file)
    except ChannelConfigError:
        return {}
    return {org: [c.name for c in channels if TRANSMITTERS[c.kind].takes_notices] for org, channels in found.items()}


@bp.post("/alerts/schemes/<int:scheme_id>/recipients/remove")
def remove_recipient(scheme_id: int):
    """Stop sending the scheme's alerts to the recipient whose button was pressed."""
    found = _scheme(scheme_id)
    recipient = _session().get(AlertRecipient, request.form.get("recipient", 0, type=params.as_id) or 0)
    if recipient is None or recipient.scheme_id != found.id:
        abort(404)
    alert_outbox.remove_recipient(_session(), found, recipient, actor=g.user.username)
    return _done(url_for("alerts.scheme", scheme_id=scheme_id))


@bp.post("/alerts/schemes/<int:scheme_id>")
def edit_scheme(scheme_id: int):
    found = _scheme(scheme_id)
    back = url_for("alerts.scheme", scheme_id=scheme_id)
    try:
        alerts.edit_scheme(_session(), found, *_scheme_form(), actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)


@bp.post("/alerts/schemes/<int:scheme_id>/remove")
def remove_scheme(scheme_id: int):
    alerts.remove_scheme(_session(), _scheme(scheme_id), actor=g.user.username)
    return _done(url_for("alerts.schemes"))


@bp.post("/alerts/schemes/<int:scheme_id>/rules")
def add_rule(scheme_id: int):
    found = _scheme(scheme_id)
    back = url_for("alerts.scheme", scheme_id=scheme_id)
    kind = request.form.get("kind", "")
    try:
        params_given, levels = _rule_form(kind)
        alerts.add_rule(_session(), found, kind, params_given, levels, actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)


def _rule_form(kind: str) -> tuple[dict, list[float] | None]:
    """A rule's options as the form gives them (empty: the kind's default); durations as
    15m, 12h or 1d, levels as three numbers such as 5,10,20."""
    form = request.form
    given = {}
    for name in DURATIONS:
        if form.get(name, "").strip():
            try:
                given[name] = parse_duration(form[name])
            except ValueError:
                raise Invalid("rule_duration", name=name, value=form[name]) from None
    for name, default in NUMBERS.items():
        if form.get(name, "").strip():
            given[name] = _number(name, form[name], whole=isinstance(default, int))
    sentiments = form.getlist("sentiment")  # the desk refuses one it does not know
    if kind in KINDS and "sentiments" in KINDS[kind].defaults and sentiments:
        given["sentiments"] = sentiments
    if kind in KINDS and "words" in KINDS[kind].defaults:
        given["words"] = [w.strip() for w in form.get("words", "").replace("，", ",").split(",") if w.strip()]
    levels = None
    if form.get("levels", "").strip():
        levels = [_number("levels", part) for part in form["levels"].replace("，", ",").split(",")]
    return given, levels


def _number(name: str, text: str, whole: bool = False) -> float | int:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise Invalid("rule_number", name=name, value=text) from None
    if not math.isfinite(value) or not 0 < value < 1e9:
        raise Invalid("rule_number", name=name, value=text)
    return value


@bp.post("/alerts/schemes/<int:scheme_id>/rules/<int:rule_id>/remove")
def remove_rule(scheme_id: int, rule_id: int):
    found = _scheme(scheme_id)
    rule = _session().get(AlertRule, rule_id)
    if rule is None or rule.scheme_id != found.id:
        abort(404)
    back = url_for("alerts.scheme", scheme_id=scheme_id)
    try:
        alerts.remove_rule(_session(), rule, actor=g.user.username)
    except WorkflowError as err:
        return _refused(err, back)
    return _done(back)
