"""Early warning (预警): monitoring schemes, their alert rules, and the alerts the rules
open, from the first posts of a burst to their handling (研判, 处置).

``check`` evaluates every rule of every scheme at a time ``now`` (``desk.alert_rules``)
and opens an alert once per rule and key, or updates the one that is open while its
condition lasts: an alert whose rule found it again within the rule's cool-down is the
same alert, its figures and evidence brought up to date and its level raised when the
figures reach a higher one. An alert closed within the cool-down stays closed. The steps
of its handling are the table ``desk.rules.ALERT_STEPS``.

Every change is an audit entry: a scheme or rule added or removed, an alert opened, its
level raised, each step. Updates of an alert's figures are not (every index batch
makes them).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session, object_session

from core.schema import PLATFORMS
from core.store import Store, naive_utc
from desk import alert_outbox, audit, facts
from desk.alert_rules import (KINDS, LEVELS, SENTIMENTS, Finding, Scope, default_levels, duration_label, evaluate,
                              keyword_text, settings_of)
from desk.clocks import Clock, load_clocks
from desk.errors import Forbidden, Invalid, NotFound
from desk.rules import move_alert
from desk.states import AlertState
from desk.tables import (Alert, AlertRule, AlertScheme, AuditEntry, Incident, Organisation, Release, User,
                         WatchedAccount)
from indexes.errors import IndexUnavailable
from indexes.query import QueryError, SearchQuery

MAX_NAME = 200
# an account rule's alerts are keyed platform:account_id, in a key of MAX_NAME characters
MAX_ACCOUNT_ID = MAX_NAME - 1 - max(map(len, PLATFORMS))

log = logging.getLogger(__name__)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # a name goes into mail subjects and robot headings


@dataclass
class Change:
    """What an evaluation did to an alert."""

    alert: Alert
    rule: AlertRule
    opened: bool  # else updated


def scope_of(scheme: AlertScheme) -> Scope:
    return Scope(scheme.text, tuple(scheme.platforms), tuple(scheme.places))


# -- schemes and rules ------------------------------------------------------------------


def add_scheme(session: Session, name: str, org: Organisation, text: str = "", platforms=(), places=(),
               *, actor: str) -> AlertScheme:
    name = _valid_scheme(session, name, text, platforms, places)
    scheme = AlertScheme(name=name, org_id=org.id, text=text, platforms=list(platforms), places=list(places))
    session.add(scheme)
    session.flush()
    audit.record(session, actor, "alert.scheme_add", f"alert_scheme:{scheme.id}",
                 {"name": name, "query": text, "platforms": list(platforms), "places": list(places)}, org_id=org.id)
    return scheme


def edit_scheme(session: Session, scheme: AlertScheme, name: str, text: str, platforms=(), places=(),
                *, actor: str) -> None:
    """Change a scheme's name and query; its rules and alerts stay."""
    name = _valid_scheme(session, name, text, platforms, places, scheme)
    scheme.name, scheme.text, scheme.platforms, scheme.places = name, text, list(platforms), list(places)
    audit.record(session, actor, "alert.scheme_edit", f"alert_scheme:{scheme.id}",
                 {"name": name, "query": text, "platforms": list(platforms), "places": list(places)},
                 org_id=scheme.org_id)


def _valid_scheme(session: Session, name: str, text: str, platforms, places,
                  scheme: AlertScheme | None = None) -> str:
    """The scheme's name stripped, once it is a free one-line name (``scheme``'s own is
    free for it) and its query one the search page takes; else the desk's refusal. Locks
    the audit log (no one else takes the name meanwhile)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid("scheme_name", limit=MAX_NAME)
    if CONTROL.search(name):
        raise Invalid("scheme_name_line")
    audit.lock(session)
    same = _active_scheme(session, name)
    if same is not None and same is not scheme:
        raise Invalid("scheme_exists", name=name)
    try:
        SearchQuery(text=text, platforms=tuple(platforms), places=tuple(places))
    except QueryError as err:
        raise Invalid("scheme_query", error=err) from None
    return name


def find_scheme(session: Session, name: str) -> AlertScheme:
    scheme = _active_scheme(session, name.strip())
    if scheme is None:
        raise NotFound("no_scheme", name=name)
    return scheme


def list_schemes(session: Session) -> list[AlertScheme]:
    return list(session.scalars(select(AlertScheme).where(AlertScheme.removed_at.is_(None)).order_by(AlertScheme.name)))


def remove_scheme(session: Session, scheme: AlertScheme, *, actor: str, now: datetime | None = None) -> None:
    """Stop watching: the scheme and its rules stay, as the record of its alerts."""
    audit.lock(session)
    scheme.removed_at = naive_utc(now or datetime.now(timezone.utc))
    audit.record(session, actor, "alert.scheme_remove", f"alert_scheme:{scheme.id}", {"name": scheme.name},
                 org_id=scheme.org_id)


def add_rule(session: Session, scheme: AlertScheme, kind: str, params: dict, levels=None, *, actor: str) -> AlertRule:
    """A rule of ``kind`` with the parameters given (the others take the kind's defaults)
    and the thresholds of levels III, II and I (default: the kind's, relative to the rule's
    threshold)."""
    if kind not in KINDS:
        raise Invalid("rule_kind", kind=kind, kinds=", ".join(KINDS))
    rule_kind = KINDS[kind]
    for option, value in params.items():
        if option not in rule_kind.defaults:
            raise Invalid("rule_option", kind=kind, option=option)
        if isinstance(rule_kind.defaults[option], (int, float)):
            _check_number(option, value)
    for sentiment in params.get("sentiments", ()):
        if sentiment not in SENTIMENTS:
            raise Invalid("rule_sentiment", sentiment=sentiment, sentiments=", ".join(SENTIMENTS))
    settings = settings_of(kind, params)
    lowest = settings[rule_kind.threshold]
    levels = default_levels(kind, lowest) if levels is None else list(levels)
    for level in levels:
        _check_number("levels", level, share=rule_kind.bounded)
    if len(levels) != 3 or not lowest < levels[0] < levels[1] < levels[2]:
        raise Invalid("rule_levels", lowest=lowest)
    if kind == "keyword":
        _check_words(scope_of(scheme), settings["words"])
    audit.lock(session)
    rule = AlertRule(scheme_id=scheme.id, kind=kind, params=params, levels=levels)
    session.add(rule)
    session.flush()
    audit.record(session, actor, "alert.rule_add", f"alert_rule:{rule.id}",
                 {"scheme": scheme.name, "kind": kind, "params": params, "levels": levels}, org_id=scheme.org_id)
    return rule


def remove_rule(session: Session, rule: AlertRule, *, actor: str) -> None:
    """Remove a rule that has opened no alert (one that has is their record)."""
    audit.lock(session)
    if session.scalars(select(Alert.id).where(Alert.rule_id == rule.id).limit(1)).first() is not None:
        raise Invalid("rule_has_alerts")
    scheme = session.get(AlertScheme, rule.scheme_id)
    audit.record(session, actor, "alert.rule_remove", f"alert_rule:{rule.id}",
                 {"scheme": scheme.name, "kind": rule.kind, "params": rule.params}, org_id=scheme.org_id)
    session.delete(rule)


# The longest durations a rule takes: a window and a cool-down of a week, a baseline of a
# quarter (a search reaches back at most so far, and an alert's key names its window).
MAX_DURATIONS = {"window": 7 * 86400, "baseline": 90 * 86400, "cool_down": 7 * 86400}
SHARES = ("share", "probability", "elapsed")  # the parameters that are shares, at most 1


def _check_number(name: str, value, share: bool = False) -> None:
    """A rule's number: finite and above 0, a share at most 1, a duration within its limit."""
    if not math.isfinite(value) or not value > 0:
        raise Invalid("rule_number", name=name, value=value)
    if (share or name in SHARES) and value > 1:
        raise Invalid("rule_share", name=name, value=value)
    if value > MAX_DURATIONS.get(name, math.inf):
        raise Invalid("rule_duration_max", name=name, value=duration_label(value),
                      limit=duration_label(MAX_DURATIONS[name]))


def _check_words(scope: Scope, words: list[str]) -> None:
    if not words:
        raise Invalid("rule_words")
    for word in words:
        if len(word) > MAX_NAME:
            raise Invalid("rule_word_long", limit=MAX_NAME)
        try:
            SearchQuery(text=keyword_text(scope, word))
        except QueryError as err:
            raise Invalid("scheme_query", error=err) from None


def list_rules(session: Session, scheme: AlertScheme) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).where(AlertRule.scheme_id == scheme.id).order_by(AlertRule.id)))


# -- watched accounts (重点账号) --------------------------------------------------------


def watch_account(session: Session, org: Organisation, platform: str, account_id: str, name: str = "", *,
                  actor: str) -> WatchedAccount:
    """Watch an account of a platform for an organisation: its account rules warn of its
    negative or rumor-like posts."""
    account_id, name = account_id.strip(), name.strip()
    if platform not in PLATFORMS:
        raise Invalid("account_platform", platform=platform, platforms=", ".join(PLATFORMS))
    if not account_id or len(account_id) > MAX_NAME or len(name) > MAX_NAME:
        raise Invalid("account_id", limit=MAX_NAME)
    if len(account_id) > MAX_ACCOUNT_ID:
        raise Invalid("account_id_long", limit=MAX_ACCOUNT_ID)
    audit.lock(session)
    if _watched(session, org, platform, account_id) is not None:
        raise Invalid("account_watched", org=org.name, platform=platform, account=account_id)
    account = WatchedAccount(org_id=org.id, platform=platform, account_id=account_id, account_name=name)
    session.add(account)
    session.flush()
    audit.record(session, actor, "alert.account_add", f"watched_account:{account.id}",
                 {"platform": platform, "account_id": account_id, "name": name}, org_id=org.id)
    return account


def watched_accounts(session: Session, org: Organisation | None = None) -> list[WatchedAccount]:
    """The accounts watched (by ``org``), by organisation, platform and account."""
    query = select(WatchedAccount).order_by(WatchedAccount.org_id, WatchedAccount.platform, WatchedAccount.account_id)
    return list(session.scalars(query if org is None else query.where(WatchedAccount.org_id == org.id)))


def unwatch_account(session: Session, org: Organisation, platform: str, account_id: str, *, actor: str) -> None:
    audit.lock(session)
    account = _watched(session, org, platform, account_id.strip())
    if account is None:
        raise NotFound("no_watched_account", org=org.name, platform=platform, account=account_id)
    session.delete(account)
    audit.record(session, actor, "alert.account_remove", f"watched_account:{account.id}",
                 {"platform": platform, "account_id": account.account_id, "name": account.account_name},
                 org_id=org.id)


def _watched(session: Session, org: Organisation, platform: str, account_id: str) -> WatchedAccount | None:
    return session.scalars(select(WatchedAccount).where(WatchedAccount.org_id == org.id,
                                                        WatchedAccount.platform == platform,
                                                        WatchedAccount.account_id == account_id)).first()


# -- evaluation -------------------------------------------------------------------------


def check(session: Session, store: Store, index, now: datetime | None = None, *, actor: str = "system",
          clocks: list[Clock] | None = None) -> list[Change]:
    """Evaluate every rule of every scheme at ``now`` (aware; default: the clock): the
    alerts opened and updated. ``clocks``: the home's (default: the shipped ones)."""
    now = now or datetime.now(timezone.utc)
    at = naive_utc(now)
    audit.lock(session)  # two evaluations at once would open one alert twice
    changes = []
    for rule, scheme, finding in _findings(session, store, index, now, clocks or load_clocks()):
        latest = session.scalars(select(Alert).where(Alert.rule_id == rule.id, Alert.key == finding.key)
                                 .order_by(Alert.id.desc()).limit(1)).first()
        if latest is not None and latest.updated_at > at:
            continue  # found later than ``at``: the past does not rewrite it (``backtest`` looks back)
        if latest is not None and _lasts(rule, latest.updated_at, at):
            if latest.state != AlertState.CLOSED:
                _update(session, latest, finding, at, actor, scheme.org_id)
                changes.append(Change(latest, rule, opened=False))
            continue
        alert = Alert(rule_id=rule.id, key=finding.key, opened_at=at, state=AlertState.NEW)
        _update(session, alert, finding, at, actor, scheme.org_id)
        session.add(alert)
        session.flush()
        audit.record(session, actor, "alert.open", f"alert:{alert.id}",
                     {"rule": rule.id, "kind": rule.kind, "key": alert.key, "level": alert.level,
                      "count": alert.count, "baseline": alert.baseline}, org_id=scheme.org_id)
        alert_outbox.queue(session, alert, "opened", at)
        changes.append(Change(alert, rule, opened=True))
    return changes


@dataclass
class Fired:
    """An alert a backtest would have opened: the finding it opened with, the highest level
    it reached with the finding and time that reached it, and when it was last found (times
    aware UTC)."""

    rule: AlertRule
    opened_at: datetime
    finding: Finding
    updated_at: datetime
    reached: Finding  # the finding that reached its highest level
    reached_at: datetime

    @property
    def level(self) -> str:
        return self.reached.level


def backtest(session: Session, store: Store, index, since: datetime, until: datetime,
             every: timedelta = timedelta(minutes=5), clocks: list[Clock] | None = None) -> list[Fired]:
    """A dry run of ``check`` at ``since`` and every ``every`` after it up to ``until``
    (aware), over the posts stored: the alerts it would have opened, in order, each found
    again within its cool-down being the same alert. Nothing is written."""
    fired: list[Fired] = []
    latest: dict[tuple[int, str], Fired] = {}
    clocks = clocks or load_clocks()
    at = since.astimezone(timezone.utc)
    while at <= until:
        for rule, _, finding in _findings(session, store, index, at, clocks):
            seen = latest.get((rule.id, finding.key))
            if seen is not None and _lasts(rule, seen.updated_at, at):
                seen.updated_at = at
                if LEVELS.index(finding.level) > LEVELS.index(seen.level):
                    seen.reached, seen.reached_at = finding, at
                continue
            latest[rule.id, finding.key] = Fired(rule, at, finding, at, finding, at)
            fired.append(latest[rule.id, finding.key])
        at += every
    return fired


def _findings(session: Session, store: Store, index, now: datetime, clocks: list[Clock]):
    """(rule, scheme, finding) of every rule of every active scheme at ``now``. A rule that
    fails is logged and skipped: one bad rule does not keep the others from warning (an
    index that is down fails them all, and is raised). Each rule reads in a savepoint, as
    a database error aborts the whole transaction on PostgreSQL."""
    rules = session.execute(select(AlertRule, AlertScheme).join(AlertScheme, AlertRule.scheme_id == AlertScheme.id)
                            .where(AlertScheme.removed_at.is_(None)).order_by(AlertRule.id)).all()
    for rule, scheme in rules:
        try:
            with session.begin_nested():
                found = evaluate(store, index, scope_of(scheme), rule.kind, rule.params, rule.levels, now,
                                 session=session, org_id=scheme.org_id, clocks=clocks)
        except IndexUnavailable:
            raise
        except Exception:  # whatever this rule's figures or parameters did wrong
            log.exception("alert rule %s of scheme %s was not evaluated", rule.id, scheme.name)
            continue
        for finding in found:
            yield rule, scheme, finding


def _lasts(rule: AlertRule, updated_at: datetime, at: datetime) -> bool:
    """Whether a finding at ``at`` is still the alert last found at ``updated_at``: within
    the rule's cool-down."""
    return updated_at >= at - timedelta(seconds=settings_of(rule.kind, rule.params)["cool_down"])


def _update(session: Session, alert: Alert, finding: Finding, at: datetime, actor: str, org_id: int) -> None:
    """Bring the alert's figures and evidence to ``finding``; its level only rises, and the
    evidence keeps the figures that reached it (``level_reached``) beside the latest (an
    alert opened before the evidence kept them has none)."""
    reached = (alert.evidence or {}).get("level_reached")
    if alert.level is None or LEVELS.index(finding.level) > LEVELS.index(alert.level):
        was, alert.level = alert.level, finding.level
        reached = level_reached(finding, at)
        if was is not None:  # raised, not opened
            audit.record(session, actor, "alert.level", f"alert:{alert.id}",
                         {"from": was, "to": alert.level, "count": finding.count}, org_id=org_id)
            alert_outbox.queue(session, alert, "raised", at)
    first = naive_utc(finding.first_post_at)
    if first is not None and (alert.first_post_at is None or first < alert.first_post_at):
        alert.first_post_at = first
    alert.updated_at = at
    alert.count, alert.baseline = finding.count, finding.baseline
    alert.post_ids, alert.query = finding.post_ids, finding.query
    alert.evidence = {**finding.evidence, "level_reached": reached} if reached else dict(finding.evidence)


def level_reached(finding: Finding, at: datetime) -> dict:
    """The figures of the finding that reached an alert's level, and when (``at``: naive or
    aware UTC), as its evidence keeps them."""
    return {"at": _iso(naive_utc(at)), "count": finding.count, "baseline": finding.baseline, **finding.evidence}


# -- handling ---------------------------------------------------------------------------


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no_alert", alert=alert_id)
    return alert


def list_alerts(session: Session) -> list[tuple[Alert, AlertRule]]:
    """Every alert with its rule, the newest first."""
    return list(session.execute(select(Alert, AlertRule).join(AlertRule, Alert.rule_id == AlertRule.id)
                                .order_by(Alert.opened_at.desc(), Alert.id.desc())).all())


def acknowledge(session: Session, alert: Alert, *, actor: str, now: datetime | None = None) -> None:
    _step(session, alert, "acknowledge", actor, {})
    alert.acknowledged_at = naive_utc(now or datetime.now(timezone.utc))


def assign(session: Session, alert: Alert, due_at: datetime, *, user: User | None = None,
           org: Organisation | None = None, actor: str, now: datetime | None = None) -> None:
    """Hand the alert to a person or an organisation, to be handled by ``due_at``; an alert
    not yet acknowledged is acknowledged by it."""
    if (user is None) == (org is None):
        raise Invalid("assign_whom")
    was = _step(session, alert, "assign", actor, {"user": user and user.username, "org": org and org.name,
                                                  "due_at": due_at})
    if was == AlertState.NEW:
        alert.acknowledged_at = naive_utc(now or datetime.now(timezone.utc))
    alert.assignee_id, alert.assigned_org_id = (user.id, None) if user else (None, org.id)
    alert.due_at = naive_utc(due_at)


def answer(session: Session, alert: Alert, release: Release, *, actor: str) -> None:
    """The alert is answered (已回应) by ``release``."""
    _step(session, alert, "answer", actor, {"release": release.id})
    alert.release_id = release.id


def close(session: Session, alert: Alert, *, actor: str, now: datetime | None = None) -> None:
    _step(session, alert, "close", actor, {})
    alert.closed_at = naive_utc(now or datetime.now(timezone.utc))


def reopen(session: Session, alert: Alert, *, actor: str) -> None:
    _step(session, alert, "reopen", actor, {})
    alert.closed_at = None


def link_incident(session: Session, alert: Alert, incident: Incident, *, user=None, actor: str) -> None:
    """Link the alert to the incident it is part of (its page lists it), in place of any
    before. ``user``: the person who links it, who must handle the alert and see the
    incident; None: the home's operator (the command line)."""
    audit.lock(session)
    session.refresh(alert)  # as it is now that no one else changes it (its assignment decides who handles it)
    scheme = session.get(AlertScheme, session.get(AlertRule, alert.rule_id).scheme_id)
    if user is not None and not may_handle(user, scheme, alert):
        raise Forbidden("alert_not_handled", alert=alert.id)
    if user is not None and not sees_incident(session, user, incident):
        raise Forbidden("incident_not_seen", incident=incident.id)
    was, alert.incident_id = alert.incident_id, incident.id
    audit.record(session, actor, "alert.link", f"alert:{alert.id}", {"from": was, "to": incident.id},
                 org_id=scheme.org_id)


def _step(session: Session, alert: Alert, step: str, actor: str, detail: dict) -> str:
    audit.lock(session)
    session.refresh(alert)  # as it is now that no one else changes it
    was = move_alert(alert, step)
    org_id = session.scalar(select(AlertScheme.org_id).join(AlertRule, AlertRule.scheme_id == AlertScheme.id)
                            .where(AlertRule.id == alert.rule_id))
    audit.record(session, actor, f"alert.{step}", f"alert:{alert.id}", {"from": was, "to": alert.state, **detail},
                 org_id=org_id)
    return was


def as_json(alert: Alert, rule: AlertRule, org_names: dict[int, str]) -> dict:
    """An alert as the command line gives it (times as ISO 8601 in UTC), organisations by
    their names in ``org_names`` (id -> name)."""
    return {
        "id": alert.id, "rule": rule.id, "kind": rule.kind, "key": alert.key, "level": alert.level,
        "state": str(alert.state), "opened_at": _iso(alert.opened_at), "updated_at": _iso(alert.updated_at),
        "first_post_at": _iso(alert.first_post_at), "count": alert.count, "baseline": alert.baseline,
        "post_ids": alert.post_ids, "query": alert.query, "evidence": alert.evidence,
        "assignee_id": alert.assignee_id, "assigned_org_id": alert.assigned_org_id, "due_at": _iso(alert.due_at),
        "release_id": alert.release_id, "incident_id": alert.incident_id,
        "escalated_to": org_names.get(alert.escalated_to_org_id), "escalated_at": _iso(alert.escalated_at),
    }


def fired_json(fired: Fired) -> dict:
    """An alert a backtest would have opened, in the keys of ``as_json`` it has."""
    found = fired.finding
    return {"rule": fired.rule.id, "kind": fired.rule.kind, "key": found.key, "level": fired.level,
            "opened_at": fired.opened_at.isoformat(), "updated_at": fired.updated_at.isoformat(),
            "first_post_at": found.first_post_at and found.first_post_at.astimezone(timezone.utc).isoformat(),
            "count": found.count, "baseline": found.baseline, "post_ids": found.post_ids, "query": found.query,
            "evidence": {**found.evidence, "level_reached": level_reached(fired.reached, fired.reached_at)}}


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat() if value else None


# -- who sees what, for the UI ------------------------------------------------------------

HANDLERS = ("analyst", "drafter")  # with "admin": the roles that see and handle alerts
OPEN_STATES = (AlertState.NEW, AlertState.HANDLING)


def handles_alerts(user) -> bool:
    """``user`` (anything with ``roles``) sees alerts at all."""
    return any(role in user.roles for role in (*HANDLERS, "admin"))


def may_handle(user, scheme: AlertScheme, alert: Alert | None = None) -> bool:
    """Admins see and handle every scheme and alert; analysts and drafters those of their
    organisation's schemes, and the alerts assigned or escalated to it or copied to it on
    an escalation (``_escalated_to``)."""
    if "admin" in user.roles:
        return True
    if not handles_alerts(user):
        return False
    if user.org_id in (scheme.org_id, alert and alert.assigned_org_id):
        return True
    return alert is not None and object_session(alert).scalar(
        select(Alert.id).where(Alert.id == alert.id, _escalated_to(user.org_id))) is not None


def alerts_for(session: Session, user, states=(), levels=()) -> list[tuple[Alert, AlertRule, AlertScheme]]:
    """The alerts ``user`` sees, the newest first, of ``states`` and ``levels`` when given."""
    if not handles_alerts(user):
        return []
    found = _seen_by(select(Alert, AlertRule, AlertScheme), user, states, levels)
    return [tuple(row) for row in session.execute(found.order_by(Alert.opened_at.desc(), Alert.id.desc())).all()]


def open_count(session: Session, user) -> int:
    """The alerts ``user`` sees that wait for assessment or are being handled."""
    if not handles_alerts(user):
        return 0
    return session.scalar(_seen_by(select(func.count(Alert.id)), user, OPEN_STATES))


def _seen_by(query, user, states=(), levels=()):
    """``query`` over the alerts ``user`` sees (with their rules and schemes)."""
    query = (query.select_from(Alert).join(AlertRule, Alert.rule_id == AlertRule.id)
             .join(AlertScheme, AlertRule.scheme_id == AlertScheme.id))
    if "admin" not in user.roles:
        query = query.where((AlertScheme.org_id == user.org_id) | (Alert.assigned_org_id == user.org_id)
                            | _escalated_to(user.org_id))
    if states:
        query = query.where(Alert.state.in_(states))
    if levels:
        query = query.where(Alert.level.in_(levels))
    return query


def _escalated_to(org_id: int):
    """Whether an alert was escalated to the organisation, now or at an earlier step, or
    copied to it on its escalation: the audit entries of its escalation are the record of
    each (a notice goes only to an organisation with a channel for notices)."""
    name = select(Organisation.name).where(Organisation.id == org_id).scalar_subquery()
    reached = select(AuditEntry.target).where(AuditEntry.action.in_(("alert.escalate", "alert.copy")),
                                              AuditEntry.detail["to"].as_string() == name)
    return (Alert.escalated_to_org_id == org_id) | ("alert:" + cast(Alert.id, String)).in_(reached)


def overdue(alert: Alert, now: datetime) -> bool:
    return alert.state in OPEN_STATES and alert.due_at is not None and alert.due_at < naive_utc(now)


def default_due(clock_hours: list[float], now: datetime) -> datetime:
    """An assignment's due time when none is given: the shortest of the clocks from now."""
    return now + timedelta(hours=min(clock_hours))


def sees_incident(session: Session, user, incident: Incident) -> bool:
    """Admins see every incident; others those their organisation opened or is named on."""
    return "admin" in user.roles or user.org_id in facts.incident_org_ids(session, incident)


def incidents_seen(session: Session, user) -> list[Incident]:
    """The incidents ``user`` sees (``sees_incident``), the newest first."""
    if "admin" in user.roles:
        return list(session.scalars(select(Incident).order_by(Incident.id.desc())))
    return facts.incidents_of(session, user.org_id, datetime.now(timezone.utc))[::-1]


def incident_alerts(session: Session, user, incident: Incident,
                    release_ids) -> list[tuple[Alert, AlertRule, datetime | None]]:
    """The alerts of an incident that ``user`` sees: those linked to it and those its
    releases ``release_ids`` answer, each with its rule and when its answer was published."""
    found = session.execute(
        select(Alert, AlertRule, AlertScheme, Release.published_at).join(AlertRule, Alert.rule_id == AlertRule.id)
        .join(AlertScheme, AlertRule.scheme_id == AlertScheme.id).outerjoin(Release, Alert.release_id == Release.id)
        .where((Alert.incident_id == incident.id) | Alert.release_id.in_(list(release_ids)))
        .order_by(Alert.opened_at, Alert.id)).all()
    return [(alert, rule, published) for alert, rule, scheme, published in found if may_handle(user, scheme, alert)]


def response_times(alert: Alert, published_at: datetime | None) -> list[tuple[str, datetime | None, timedelta | None]]:
    """The steps from the first post to the alert, its acknowledgement and the published
    answer: each with its time and the time since the step before (None where not yet)."""
    steps = [("first_post", alert.first_post_at), ("opened", alert.opened_at), ("acknowledged", alert.acknowledged_at),
             ("answer_published", published_at)]
    times = []
    for n, (name, at) in enumerate(steps):
        before = steps[n - 1][1] if n else None
        times.append((name, at, at - before if at and before else None))
    return times


def _active_scheme(session: Session, name: str) -> AlertScheme | None:
    active = select(AlertScheme).where(AlertScheme.name == name, AlertScheme.removed_at.is_(None))
    return session.scalars(active).first()
