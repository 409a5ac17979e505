"""A scenario (``desk.scenario``) played against the clock in a home: a *replay*.

A home plays at most one at a time. Its clock runs ``speed`` times as fast as the wall
clock while it runs (``Replay.offset_at``), and each entry of the scenario is dated the
wall time its offset was reached (``Replay.appeared_at``), so that the posts a live site
serves, the facts, the releases and the alerts all agree. A *demo* runs at once and plays
both sides itself; a *drill* waits for its director (``run``), and its teams draft,
approve and publish themselves while the director sends the injects (``send_inject``).

``play_due`` applies what is due, each entry once (``replay_events``), so that a player
killed halfway and started again does nothing twice. The functions change the caller's
session and leave the commit to the caller.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.store import PostRow, Store, naive_utc, utcnow
from desk import accounts, alerts, audit, facts, injects, releases, rules
from desk.checks import message
from desk.errors import Invalid, InvalidTransition
from desk.scenario import Draft, FactChange, Inject, Release as ScenarioRelease, Scenario, load
from desk.states import ReplayState
from desk.tables import REPLAY_KINDS, Alert, Incident, Organisation, Replay, ReplayEvent, User
from desk.transmitters import Channel

# The people of each side of a scenario (``seed_organisations``): username suffix, display
# name suffix, roles. The director is an admin of the first side.
SIDE_PEOPLE = (("drafter", "起草人", ["drafter"]), ("approver", "审核人", ["approver"]),
               ("publisher", "发布人", ["publisher"]), ("analyst", "舆情分析员", ["analyst"]))
DIRECTOR = ("director", "演练导演", ["admin"])
LEVEL_OF_KIND = {"government": "city", "enterprise": "company"}
CHANNEL = "website"  # the scenario's releases are notices on the sides' websites (the live site's gov pages)
# An approver's comment on a text the checks hold back (the problems are in the audit log).
HELD_BACK = "预发布检查发现与事实表或对方通报不一致之处，请核对后修改。"
# How long (scenario time) a release waits for the crawls to store the posts it answers,
# holding back what comes after it, before it goes out answering those stored by then.
ANSWER_WAIT = timedelta(hours=2)


def current(session: Session) -> Replay | None:
    """The home's replay: the newest, ended or not."""
    return session.execute(select(Replay).order_by(Replay.id.desc()).limit(1)).scalar()


def start(session: Session, scenario: Scenario, kind: str, speed: float, now: datetime | None = None,
          org_ids: list[int] | None = None, *, actor: str = "system") -> Replay:
    """A replay of ``scenario`` and its incident, opened by the first side's drafter and
    handled by every side's organisation and ``org_ids``. A drill is ready until its
    director runs it; a demo runs at once. Refused while another replay is not ended."""
    if kind not in REPLAY_KINDS:
        raise ValueError(f"a replay is one of {', '.join(REPLAY_KINDS)}, not {kind!r}")
    if not (isinstance(speed, (int, float)) and math.isfinite(speed) and speed > 0):
        raise Invalid("replay_speed", speed=speed)
    going = current(session)
    if going is not None and going.state != ReplayState.ENDED:
        raise InvalidTransition("replay_going", scenario=going.scenario)
    sides = side_organisations(session, scenario)
    opener = side_user(session, sides[scenario.organisations[0].key], "drafter")
    handling = list(dict.fromkeys([*(org.id for org in sides.values()), *(org_ids or [])]))
    incident = releases.create_incident(session, opener, scenario.title, scenario.query, org_ids=handling)
    replay = Replay(scenario=scenario.name, kind=kind, speed=float(speed), length=scenario.length.total_seconds(),
                    state=ReplayState.READY, pauses=[], org_ids=handling, incident_id=incident.id)
    session.add(replay)
    session.flush()
    audit.record(session, actor, "replay.start", _target(replay),
                 {"scenario": scenario.name, "kind": kind, "speed": replay.speed, "incident": incident.id})
    if kind == "demo":
        run(session, replay, now, actor=actor)
    return replay


def run(session: Session, replay: Replay, now: datetime | None = None, *, actor: str = "system") -> None:
    """Start the clock: the scenario's start is now, and so is its incident's."""
    now = naive_utc(now) or utcnow()
    _step(session, replay, "run", now, actor)
    replay.started_at = now
    session.get(Incident, replay.incident_id).started_at = now


def pause(session: Session, replay: Replay, now: datetime | None = None, *, actor: str = "system") -> None:
    now = naive_utc(now) or utcnow()
    _step(session, replay, "pause", now, actor)
    replay.paused_at = now


def resume(session: Session, replay: Replay, now: datetime | None = None, *, actor: str = "system") -> None:
    now = naive_utc(now) or utcnow()
    _step(session, replay, "resume", now, actor)
    _close_pause(replay, now)


def end(session: Session, replay: Replay, now: datetime | None = None, *, actor: str = "system") -> None:
    """Stop the clock for good (a pause going on ends with it)."""
    now = naive_utc(now) or utcnow()
    _step(session, replay, "end", now, actor)
    _close_pause(replay, now)
    replay.ended_at = now


def _step(session: Session, replay: Replay, step: str, now: datetime, actor: str) -> None:
    before = rules.move_replay(replay, step)
    audit.record(session, actor, f"replay.{step}", _target(replay),
                 {"from": before, "to": replay.state, "at": now.isoformat(),
                  "offset": replay.offset_at(now).total_seconds()})


def _close_pause(replay: Replay, now: datetime) -> None:
    if replay.paused_at is not None:
        replay.pauses = [*replay.pauses, [replay.paused_at.isoformat(), now.isoformat()]]  # a new list: JSON is saved on assignment
        replay.paused_at = None


def _target(replay: Replay) -> str:
    return f"replay:{replay.id}"


# --- playing the scenario ----------------------------------------------------------------

def play_due(session: Session, store: Store, replay: Replay, scenario: Scenario,
             now: datetime | None = None) -> list[str]:
    """Apply each entry of ``scenario`` whose offset ``replay`` has reached at ``now`` and
    that it has not played yet, in the order of their offsets (at one offset: facts,
    drafts, releases, injects), each dated ``appeared_at`` its offset:

    - a fact is set by its side's drafter (``desk.facts.set_fact``);
    - a demo's releases go through the workflow: its side's drafter drafts and submits,
      its approver approves, its publisher schedules it and it is published at once,
      answering the clusters of the posts in ``answers``; one the checks hold back is
      sent back instead. A release waits (and what comes after it with it, so that the
      checks see the fact sheet of its time) until the crawls have stored the posts it
      answers, at most ``ANSWER_WAIT``;
    - a demo's first drafts are drafted and submitted, and sent back when the checks
      refuse their approval (``workflow.blocked`` in the audit log, as the review UI
      records a refusal);
    - a demo's injects are recorded as sent at their time (a drill's director sends them:
      ``send_inject``), and a drill's teams draft and publish themselves;
    - the alerts opened since the replay started and linked to no incident are linked
      to the replay's.

    Each entry and its ``replay_events`` row land in one transaction with the caller's
    commit, so that a player killed halfway plays none twice. Returns what it did, one
    line each, for the console."""
    if replay.started_at is None:
        return []
    now = naive_utc(now) or utcnow()
    reached = replay.offset_at(now)
    done = set(session.scalars(select(ReplayEvent.entry_id).where(ReplayEvent.replay_id == replay.id)))
    incident = session.get(Incident, replay.incident_id)
    sides = side_organisations(session, scenario)
    said = []
    for at, kind, entry_id, entry in _entries(scenario, replay.kind):
        if at > reached:
            break
        if entry_id in done:
            continue
        when = replay.appeared_at(at)
        org = sides[entry.to if kind == "inject" else entry.by]
        if isinstance(entry, Inject):
            _record_inject(session, replay, entry, "system", when)
            said.append(f"{_clock(at)} inject {entry.id} ({entry.kind}) to {org.name}: {entry.text}")
            continue
        if isinstance(entry, FactChange):
            value = list(entry.value) if isinstance(entry.value, tuple) else entry.value
            facts.set_fact(session, side_user(session, org, "drafter"), incident, entry.key, value, at=when)
            line = f"fact {entry.key} = {value} ({org.name})"
        else:
            clusters = _clusters(store, scenario, getattr(entry, "answers", ()))
            if clusters is None:
                if reached - at < ANSWER_WAIT:
                    break
                clusters = []  # its posts were never crawled: it answers nothing
            line = _release(session, incident, org, entry, when, clusters)
        session.add(ReplayEvent(replay_id=replay.id, entry_id=entry_id, kind=kind, done_at=naive_utc(when)))
        session.flush()
        said.append(f"{_clock(at)} {line}")
    return said + _link_alerts(session, replay, incident)


def _entries(scenario: Scenario, kind: str) -> list[tuple[timedelta, str, str, object]]:
    """(offset, event kind, entry id, entry) of what a replay of ``kind`` plays, in order."""
    entries = [(fact.at, 0, "fact", f"fact:{number}", fact) for number, fact in enumerate(scenario.facts, start=1)]
    if kind == "demo":
        entries += [(draft.at, 1, "release", draft.id, draft) for draft in scenario.drafts]
        entries += [(release.at, 2, "release", release.id, release) for release in scenario.releases]
        entries += [(inject.at, 3, "inject", inject.id, inject) for inject in scenario.injects]
    return [(at, kind, entry_id, entry) for at, _, kind, entry_id, entry in sorted(entries, key=lambda e: e[:2])]


def _release(session: Session, incident: Incident, org: Organisation, entry: Draft | ScenarioRelease,
             when: datetime, clusters: list[str]) -> str:
    """Draft ``entry`` for its side and take it as far as the workflow lets it: a release
    to published, a first draft to approved; one the checks refuse to approve goes back
    to its drafter, the refusal audited as the review UI audits it (``workflow.blocked``)."""
    drafter, approver = side_user(session, org, "drafter"), side_user(session, org, "approver")
    release = releases.create_release(session, drafter, incident, entry.title, entry.text, CHANNEL, [org.id],
                                      rumor_clusters=clusters)
    releases.submit(session, drafter, release)
    try:
        with session.begin_nested():  # refused: the attempt's own changes roll back, as in the review UI
            releases.approve(session, approver, release)
    except releases.Blocked as err:
        audit.record(session, approver.username, "workflow.blocked", f"release:{release.id}",
                     {"attempted": "approve", "problems": [problem.kind for problem in err.problems]},
                     org_id=approver.org_id)
        releases.request_changes(session, approver, release, HELD_BACK)
        return f"{entry.id}: {org.name}'s draft held back by the checks: {'; '.join(map(message, err.problems))}"
    if isinstance(entry, Draft):
        return f"{entry.id}: {org.name}'s first draft approved: {entry.title}"
    at = naive_utc(when)
    releases.schedule(session, side_user(session, org, "publisher"), release, when=at, now=at)
    releases.mark_published(session, release, when=at)
    return f"{entry.id}: {org.name} published {entry.title}"


def _clusters(store: Store, scenario: Scenario, post_ids: tuple[str, ...]) -> list[str] | None:
    """The near-duplicate clusters of the scenario's posts ``post_ids`` as the crawls
    stored them (``Scenario.stored_id``), or None while one is not stored yet."""
    if not post_ids:
        return []
    platforms = {post.id: post.platform for post in scenario.posts}
    keys = [(platforms[post_id], scenario.stored_id(post_id)) for post_id in post_ids]
    with store.engine.connect() as conn:
        rows = conn.execute(select(PostRow.platform, PostRow.platform_id, PostRow.cluster)
                            .where(tuple_(PostRow.platform, PostRow.platform_id).in_(keys))).all()
    found = {(platform, platform_id): cluster for platform, platform_id, cluster in rows}
    clusters = [found.get(key) for key in keys]
    return None if None in clusters else list(dict.fromkeys(clusters))


def _link_alerts(session: Session, replay: Replay, incident: Incident) -> list[str]:
    opened = session.scalars(select(Alert).where(Alert.incident_id.is_(None), Alert.opened_at >= replay.started_at)
                             .order_by(Alert.id)).all()
    for alert in opened:
        alerts.link_incident(session, alert, incident, actor="system")
    return [f"alert {alert.id} ({alert.key}) linked to the incident" for alert in opened]


def send_inject(session: Session, replay: Replay, inject_id: str, actor: str, now: datetime | None = None,
                scenario: Scenario | None = None, channels: dict[str, list[Channel]] | None = None) -> ReplayEvent:
    """The director sends an inject to its team (at any time before the end): recorded
    once, with its notices to the team's channels of ``channels`` (``desk.injects``);
    sending it again returns the record. ``scenario``: the replay's, when it is not a
    shipped one to load by its name."""
    scenario = scenario or load(replay.scenario)
    inject = next((inject for inject in scenario.injects if inject.id == inject_id), None)
    if inject is None:
        raise Invalid("no_inject", inject=inject_id)
    sent = select(ReplayEvent).where(ReplayEvent.replay_id == replay.id, ReplayEvent.entry_id == inject_id)
    if (found := session.scalar(sent)) is not None:
        return found
    if replay.state == ReplayState.ENDED:
        raise InvalidTransition("replay_state", change="send_inject", now=replay.state)
    now = naive_utc(now) or utcnow()
    try:
        with session.begin_nested():
            event = _record_inject(session, replay, inject, actor, now)
            injects.queue(session, event, inject, side_organisations(session, scenario)[inject.to], channels or {}, now)
            return event
    except IntegrityError:  # sent at the same moment by another request (a double click)
        return session.scalar(sent)


def _record_inject(session: Session, replay: Replay, inject: Inject, actor: str, when: datetime) -> ReplayEvent:
    event = ReplayEvent(replay_id=replay.id, entry_id=inject.id, kind="inject", done_at=naive_utc(when))
    session.add(event)
    session.flush()
    audit.record(session, actor, "replay.inject", _target(replay),
                 {"inject": inject.id, "kind": inject.kind, "to": inject.to, "at": event.done_at.isoformat()})
    return event


def sent_injects(session: Session, replay: Replay) -> dict[str, datetime]:
    """When each inject was sent (naive UTC), by its id."""
    return dict(session.execute(select(ReplayEvent.entry_id, ReplayEvent.done_at)
                                .where(ReplayEvent.replay_id == replay.id, ReplayEvent.kind == "inject")).all())


def _clock(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"[{minutes // 60:02d}:{minutes % 60:02d}]"


# --- the scenario's people ---------------------------------------------------------------

def seed_organisations(session: Session, scenario: Scenario) -> list[tuple[str, str, str, list[str]]]:
    """The scenario's organisations (its sides, by their names), with a drafter, approver,
    publisher and analyst each (``<side key>_drafter``...) and a director (an admin of
    the first side): whichever are missing. Returns (username, password, organisation,
    roles) of each user created now: passwords are random and known only now."""
    created = []
    for side in scenario.organisations:
        org = accounts.find_organisation(session, side.name)
        if org is None:
            org = accounts.create_organisation(session, side.name, side.kind, LEVEL_OF_KIND[side.kind],
                                               actor="scenario")
        people = [(f"{side.key}_{suffix}", f"{side.name} {title}", roles) for suffix, title, roles in SIDE_PEOPLE]
        if side == scenario.organisations[0]:
            people.append(DIRECTOR)
        for username, display_name, roles in people:
            if accounts.find_user(session, username) is None:
                password = secrets.token_urlsafe(12)
                accounts.create_user(session, username, display_name, password, org, roles, actor="scenario")
                created.append((username, password, org.name, roles))
    return created


def side_organisations(session: Session, scenario: Scenario) -> dict[str, Organisation]:
    """Each side's organisation, by the side's key (``seed_organisations`` made them)."""
    found = {}
    for side in scenario.organisations:
        org = accounts.find_organisation(session, side.name)
        if org is None:
            raise Invalid("no_side_user", org=side.name, role="drafter")
        found[side.key] = org
    return found


def side_user(session: Session, org: Organisation, role: str) -> User:
    """The first active user of ``org`` with ``role``: who plays that part of its side."""
    for user in accounts.list_users(session, org):
        if user.active and role in user.roles:
            return user
    raise Invalid("no_side_user", org=org.name, role=role)
