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
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store import naive_utc, utcnow
from desk import accounts, audit, releases, rules
from desk.errors import Invalid, InvalidTransition
from desk.scenario import Scenario
from desk.states import ReplayState
from desk.tables import REPLAY_KINDS, Incident, Organisation, Replay, ReplayEvent, User

# The people of each side of a scenario (``seed_organisations``): username suffix, display
# name suffix, roles. The director is an admin of the first side.
SIDE_PEOPLE = (("drafter", "起草人", ["drafter"]), ("approver", "审核人", ["approver"]),
               ("publisher", "发布人", ["publisher"]), ("analyst", "舆情分析员", ["analyst"]))
DIRECTOR = ("director", "演练导演", ["admin"])
LEVEL_OF_KIND = {"government": "city", "enterprise": "company"}


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
