"""A scenario played against the clock (desk.replay): its clock with speed and pauses, the
entries it plays once each across a kill, and the injects a drill's director sends; on a
real SQLite database with the shipped scenario."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.schema import make_post
from core.store import PostRow, Store
from desk import alerts, injects, replay as replays
from desk.database import create_tables
from desk.errors import Invalid, InvalidTransition
from desk.facts import fact_history
from desk.outbox import LEASE, load_channels, moved
from desk.releases import current_version
from desk.scenario import load
from desk.states import DeliveryStatus, ReleaseState, ReplayState
from desk.tables import Alert, AuditEntry, Incident, InjectNotice, Organisation, Release, ReplayEvent

TYPHOON = load("binhai_typhoon")
T0 = datetime(2026, 7, 25, 22, 0)  # naive UTC, as the tables keep it
MINUTE = timedelta(minutes=1)


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'crisiswatch.db'}")
    create_tables(store.engine)
    yield store
    store.close()


@pytest.fixture
def session(store):
    with Session(store.engine) as session:
        replays.seed_organisations(session, TYPHOON)
        session.commit()
        yield session


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


def crawl(store, replay, *post_ids):
    """Store the scenario's posts as the crawls of the live site do: under their stable
    ids, dated when they appeared in the replay."""
    posts = [post for post in TYPHOON.posts if post.id in post_ids]
    store.upsert_posts([make_post(platform=post.platform, platform_id=TYPHOON.stored_id(post.id), kind=post.kind,
                                  text=post.text, author_name=post.author, created_at=replay.appeared_at(post.at),
                                  source="live") for post in posts])


def actions(session, target):
    return Counter(session.scalars(select(AuditEntry.action).where(AuditEntry.target == target)))


def test_a_demo_plays_each_fact_and_release_once_through_the_workflow_across_a_kill(session, store):
    demo = replays.start(session, TYPHOON, "demo", 48, now=T0)
    session.commit()
    said = replays.play_due(session, store, demo, TYPHOON, now=T0 + 5 * MINUTE)  # 4h: the first facts and texts
    session.commit()
    assert len(said) == 5 + 3 + 0  # five facts at 2h50m, the two drafts and g01; no inject before 5h
    assert any("g01" in line and "published" in line for line in said)
    assert "[03:25] d02: 滨海市人民政府新闻办公室's draft held back by the checks: Household count differs from the " \
           "fact sheet: draft 约5万户, the fact sheet 32000" in said

    replays.play_due(session, store, demo, TYPHOON, now=T0 + 10 * MINUTE)  # to 8h, killed before its commit
    session.rollback()
    again = replays.play_due(session, store, demo, TYPHOON, now=T0 + 10 * MINUTE)
    # g02 answers the rumor: it waits for its post to be crawled, and what comes after it too
    assert [line[:7] for line in again] == ["[05:00]", "[05:30]", "[05:30]"]
    session.commit()
    [answer] = [release for release in TYPHOON.releases if release.answers]
    crawl(store, demo, *answer.answers)
    said = replays.play_due(session, store, demo, TYPHOON, now=T0 + 10 * MINUTE)
    assert [line[:11] for line in said] == ["[06:15] g02", "[06:40] inj", "[07:00] fac", "[07:05] g03"]
    session.commit()
    replays.play_due(session, store, demo, TYPHOON, now=T0 + 60 * MINUTE)  # past the end
    session.commit()
    assert replays.play_due(session, store, demo, TYPHOON, now=T0 + 60 * MINUTE) == []

    history = fact_history(session, session.get(Incident, demo.incident_id))
    assert [(row.key, row.updated_at) for row in history] == [
        (fact.key, demo.appeared_at(fact.at).replace(tzinfo=None)) for fact in TYPHOON.facts]
    rows = {current_version(session, release).title: release for release in session.scalars(select(Release))}
    for entry in TYPHOON.releases:  # each published once, at its time, through every step of the workflow
        release = rows[entry.title]
        assert release.state == ReleaseState.PUBLISHED
        assert release.published_at == demo.appeared_at(entry.at).replace(tzinfo=None)
        assert actions(session, f"release:{release.id}") == {
            "release.create": 1, "release.submit": 1, "release.approve": 1, "release.schedule": 1,
            "release.publish": 1}
    [cluster] = store.engine.connect().execute(select(PostRow.cluster)).scalars()
    assert rows[answer.title].rumor_clusters == [cluster]
    for entry in TYPHOON.drafts:  # the two sides' first drafts: held back by the checks, sent back
        release = rows[entry.title]
        assert release.state == ReleaseState.DRAFT
        assert actions(session, f"release:{release.id}") == {  # its approval refused, as the review UI records it
            "release.create": 1, "release.submit": 1, "workflow.blocked": 1, "release.request_changes": 1}
        [blocked] = session.scalars(select(AuditEntry.detail).where(AuditEntry.target == f"release:{release.id}",
                                                                    AuditEntry.action == "workflow.blocked"))
        assert blocked == {"attempted": "approve", "problems": ["contradiction"]}  # the households: the fact sheet's
    assert sorted(replays.sent_injects(session, demo)) == [inject.id for inject in TYPHOON.injects]
    assert session.scalar(select(ReplayEvent.kind).where(ReplayEvent.entry_id == "fact:1")) == "fact"


def test_a_drill_plays_the_facts_and_its_director_sends_each_inject_once(session, store):
    drill = replays.start(session, TYPHOON, "drill", 48, now=T0)
    assert replays.play_due(session, store, drill, TYPHOON, now=T0 + 60 * MINUTE) == []  # not running yet
    replays.run(session, drill, now=T0)
    said = replays.play_due(session, store, drill, TYPHOON, now=T0 + 60 * MINUTE)
    assert len(said) == len(TYPHOON.facts) and all(" fact " in line for line in said)
    assert session.scalar(select(Release.id)) is None  # the teams draft and publish themselves
    assert replays.sent_injects(session, drill) == {}

    first = replays.send_inject(session, drill, "i02", "director", now=T0 + 3 * MINUTE)
    assert replays.send_inject(session, drill, "i02", "director", now=T0 + 4 * MINUTE).id == first.id
    assert replays.sent_injects(session, drill) == {"i02": T0 + 3 * MINUTE}
    assert actions(session, f"replay:{drill.id}")["replay.inject"] == 1
    with pytest.raises(Invalid):
        replays.send_inject(session, drill, "i99", "director")
    replays.end(session, drill, now=T0 + 30 * MINUTE)
    with pytest.raises(InvalidTransition):
        replays.send_inject(session, drill, "i01", "director")
    session.commit()


def test_a_release_whose_posts_are_never_crawled_goes_out_after_its_wait_and_new_alerts_join_the_incident(
        session, store):
    scheme = alerts.add_scheme(session, "滨海停电", session.get(Organisation, 1), "停电", actor="test")
    rule = alerts.add_rule(session, scheme, "keyword", {"words": ["全城停电"]}, actor="test")
    before, during = (Alert(rule_id=rule.id, key=key, level="IV", opened_at=at, updated_at=at, count=3, baseline=0,
                            query="q=停电") for key, at in (("旧", T0 - MINUTE), ("全城停电", T0 + MINUTE)))
    session.add_all([before, during])
    demo = replays.start(session, TYPHOON, "demo", 48, now=T0)
    [answer] = [release for release in TYPHOON.releases if release.answers]
    waited = demo.appeared_at(answer.at + replays.ANSWER_WAIT).replace(tzinfo=None)
    said = replays.play_due(session, store, demo, TYPHOON, now=waited - MINUTE)
    assert not any(answer.id in line for line in said)
    assert said[-1] == f"alert {during.id} (全城停电) linked to the incident"
    assert (before.incident_id, during.incident_id) == (None, demo.incident_id)
    said = replays.play_due(session, store, demo, TYPHOON, now=waited)
    assert said[0].startswith(f"[06:15] {answer.id}") and "published" in said[0]
    [published] = [release for release in session.scalars(select(Release))
                   if current_version(session, release).title == answer.title]
    assert published.state == ReleaseState.PUBLISHED and published.rumor_clusters == []


def test_an_injects_notice_is_queued_with_it_and_sent_once_after_a_sender_killed_mid_attempt(session, store,
                                                                                            tmp_path):
    """The notice rows land in the send's transaction; a sender that claimed one and died
    leaves it to the next run after its lease, which sends it once to the team's channel."""
    path = tmp_path / "channels.toml"
    path.write_text("".join(f'[[organisation]]\nname = "{side.name}"\n[[organisation.channel]]\nname = "archive"\n'
                            f'kind = "file"\nfolder = "{side.key}"\n\n' for side in TYPHOON.organisations),
                    encoding="utf-8")
    channels = load_channels(path)
    drill = replays.start(session, TYPHOON, "drill", 48, now=T0)
    replays.run(session, drill, now=T0)
    replays.send_inject(session, drill, "i02", "director", now=T0 + MINUTE, channels=channels)
    replays.send_inject(session, drill, "i02", "director", now=T0 + 2 * MINUTE, channels=channels)  # once
    session.commit()
    [row] = session.scalars(select(InjectNotice)).all()
    assert (row.channel, row.status, row.title) == ("archive", DeliveryStatus.PENDING, "【演练】情景注入：谣言视频")

    factory = sessionmaker(store.engine)
    with factory.begin() as claiming:  # a sender claims it, then is killed before it sends
        claiming.execute(moved("claim", InjectNotice.id == row.id, table=InjectNotice,
                               next_attempt_at=T0 + 3 * MINUTE + LEASE))
    assert injects.deliver_due(factory, channels, T0 + 3 * MINUTE + LEASE / 2) == []  # its lease still holds
    [sent] = injects.deliver_due(factory, channels, T0 + 3 * MINUTE + LEASE)
    assert (sent.org, sent.status) == (TYPHOON.organisations[0].name, DeliveryStatus.DELIVERED)
    assert injects.deliver_due(factory, channels, T0 + 10 * MINUTE + LEASE) == []
    (written,) = (tmp_path / "city").iterdir()
    assert "变电站爆炸起火" in written.read_text(encoding="utf-8") and not (tmp_path / "grid").exists()
