"""A scenario played against the clock (desk.replay): its clock with speed and pauses, the
entries it plays once each across a kill, and the injects a drill's director sends; on a
real SQLite database with the shipped scenario."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from desk import replay as replays
from desk.database import create_tables
from desk.errors import InvalidTransition
from desk.scenario import load
from desk.states import ReplayState

TYPHOON = load("binhai_typhoon")
T0 = datetime(2026, 7, 25, 22, 0)  # naive UTC, as the tables keep it
MINUTE = timedelta(minutes=1)


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    create_tables(engine)
    with Session(engine) as session:
        replays.seed_organisations(session, TYPHOON)
        session.commit()
        yield session
    engine.dispose()


def test_the_clock_runs_at_its_speed_stops_while_paused_and_at_the_scenarios_end(session):
    drill = replays.start(session, TYPHOON, "drill", 48, now=T0)  # a day in half an hour
    assert drill.state == ReplayState.READY and drill.offset_at(T0 + 10 * MINUTE) == timedelta(0)
    replays.run(session, drill, now=T0)
    assert drill.offset_at(T0 + 10 * MINUTE) == timedelta(hours=8)
    replays.pause(session, drill, now=T0 + 10 * MINUTE)
    assert drill.offset_at(T0 + 20 * MINUTE) == timedelta(hours=8)
    with pytest.raises(InvalidTransition):
        replays.pause(session, drill, now=T0 + 20 * MINUTE)
    replays.resume(session, drill, now=T0 + 20 * MINUTE)
    assert drill.offset_at(T0 + 25 * MINUTE) == timedelta(hours=12)
    assert drill.offset_at(T0 + 15 * MINUTE) == timedelta(hours=8)  # a time inside the pause, asked later
    assert drill.offset_at(T0 + 3 * 60 * MINUTE) == TYPHOON.length
    replays.end(session, drill, now=T0 + 30 * MINUTE)
    assert drill.state == ReplayState.ENDED and drill.offset_at(T0 + 60 * MINUTE) == timedelta(hours=16)
    assert drill.offset_at(T0 - MINUTE) == timedelta(0)
    session.commit()
    assert replays.current(session).id == drill.id


def test_an_entry_appears_at_one_time_before_during_and_after_a_pause(session):
    demo = replays.start(session, TYPHOON, "demo", 48, now=T0)  # a demo runs at once
    assert demo.state == ReplayState.RUNNING
    early, late = timedelta(hours=4), timedelta(hours=10)
    before = demo.appeared_at(early)
    assert before == (T0 + 5 * MINUTE).replace(tzinfo=timezone.utc)
    replays.pause(session, demo, now=T0 + 10 * MINUTE)
    assert demo.appeared_at(early) == before
    replays.resume(session, demo, now=T0 + 20 * MINUTE)
    assert demo.appeared_at(early) == before
    assert demo.appeared_at(late) == (T0 + 22 * MINUTE + 30 * MINUTE / 60).replace(tzinfo=timezone.utc)
    assert demo.appeared_at(timedelta(hours=8)) == (T0 + 10 * MINUTE).replace(tzinfo=timezone.utc)  # before the pause
    for offset in (early, late, timedelta(hours=8)):
        assert demo.offset_at(demo.appeared_at(offset)) == offset
    with pytest.raises(InvalidTransition):  # one replay at a time
        replays.start(session, TYPHOON, "drill", 10, now=T0)
