"""Alert rules on monitoring schemes: posts stored (SQLite and PostgreSQL), tagged and
indexed in a real embedded index, evaluated at a given time from the index's counts; alerts
opened once and updated, their levels, cool-down, handling steps and audit entries."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from core.schema import CHINA_TZ, Tags, make_post
from core.store import Store
from desk import alert_rules, alerts
from desk.alert_rules import level_of
from desk.database import open_sessions
from desk.errors import Forbidden, Invalid, InvalidTransition
from desk.rules import ALERT_STEPS, move_alert
from desk.states import AlertState
from desk.tables import Alert, AlertRule, AuditEntry, Incident, Organisation, Release, User
from indexes.backends import open_index
from indexes.indexer import index_pending

NOW = datetime(2024, 7, 25, 12, 0, tzinfo=CHINA_TZ)


class Feed:
    """A home's store, index and workflow sessions; posts added at times relative to NOW."""

    def __init__(self, home, store: Store):
        self.home, self.store = home, store
        self.session = open_sessions(self.store.engine)()
        self.org = Organisation(name="海口供电局", kind="enterprise", level="branch")
        self.session.add(self.org)
        self.session.flush()
        self.serial = 0

    def add(self, minutes_before: list[float], text: str = "龙华区停电了", sentiment: str = "anger") -> None:
        """Posts at these minutes before NOW (negative: after it), tagged and indexed (after
        what the session did is committed, as a crawl is another process)."""
        self.session.commit()
        posts = []
        for minutes in minutes_before:
            self.serial += 1
            when = NOW - timedelta(minutes=minutes)
            posts.append(make_post(platform="weibo", platform_id=f"p{self.serial}", text=f"{text} {self.serial}",
                                   created_at=when.isoformat(), likes_count=self.serial))
        self.store.upsert_posts(posts)
        ids = [post["id"] for post in self.store.get_posts(range(1, self.serial + 1)).values()
               if post["tags"] is None]
        self.store.save_tags([Tags(post_id, 0.1, sentiment, 0.9, [], "test-model") for post_id in ids])
        index_pending(self.store, open_index(self.home))

    def check(self, minutes_after: float = 0) -> list[alerts.Change]:
        changes = alerts.check(self.session, self.store, open_index(self.home), NOW + timedelta(minutes=minutes_after))
        self.session.commit()
        return changes

    def scheme(self, text: str = "停电") -> alerts.AlertScheme:
        return alerts.add_scheme(self.session, "龙华停电", self.org, text, places=(), actor="test")


@pytest.fixture
def feed(home, store):
    feed = Feed(home, store)
    # a steady baseline: one post every 15 minutes in the 12 hours before the window
    feed.add([16 + 15 * i for i in range(48)], sentiment="positive")
    yield feed
    feed.session.close()


def burst(feed, count: int, start: float = 14, **post) -> None:
    """``count`` posts in the 15 minutes before NOW (from ``start`` minutes before it)."""
    feed.add([start - i * start / count for i in range(count)], **post)


def test_a_spike_fires_once_and_is_updated_not_repeated(feed):
    scheme = feed.scheme()
    rule = alerts.add_rule(feed.session, scheme, "spike", {}, actor="test")
    assert feed.check() == []  # the baseline alone: one post in 15 minutes

    burst(feed, 25)
    [opened] = feed.check()
    alert = opened.alert
    assert opened.opened and alert.rule_id == rule.id and alert.key == "15m"
    assert alert.count == 25 and alert.baseline == 1.0 and alert.evidence["ratio"] == 25.0
    assert alert.level == "I" and alert.state == "new"  # a ratio of 25 reaches level I's 20
    assert len(alert.post_ids) == 5
    first = feed.store.get_posts(alert.post_ids)
    assert min(post["likes_count"] for post in first.values()) > 48  # the burst's most liked, not the baseline's
    assert alert.first_post_at == datetime(2024, 7, 25, 3, 46)  # 11:46 China time, naive UTC
    assert "q=%E5%81%9C%E7%94%B5" in alert.query and "since=2024-07-25T11%3A45%3A00" in alert.query
    assert "until=2024-07-25T12%3A00%3A00" in alert.query

    feed.add([-1, -2, -3])  # the burst goes on
    [updated] = feed.check(minutes_after=5)
    assert not updated.opened and updated.alert.id == alert.id
    assert updated.alert.count == 20  # 17 of the burst are in the window 11:50-12:05, and the 3 new ones
    assert updated.alert.first_post_at == alert.first_post_at and updated.alert.opened_at == alert.opened_at
    assert len(alerts.list_alerts(feed.session)) == 1


def test_below_the_minimum_count_nothing_fires(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {"min_count": 30}, actor="test")
    burst(feed, 25)
    assert feed.check() == []
    assert alerts.list_alerts(feed.session) == []


def test_levels_follow_the_rule_thresholds(feed):
    assert level_of(2.9, 3, [5, 10, 20]) is None
    assert [level_of(x, 3, [5, 10, 20]) for x in (3, 5, 9.9, 10, 20, 100)] == ["IV", "III", "III", "II", "I", "I"]
    scheme = feed.scheme()
    alerts.add_rule(feed.session, scheme, "spike", {}, [30, 40, 50], actor="test")
    alerts.add_rule(feed.session, scheme, "spike", {"window": 600, "min_count": 10}, [6, 9, 12], actor="test")
    burst(feed, 25)
    levels = {change.alert.key: change.alert.level for change in feed.check()}
    # 15 minutes: 25 posts against 1 expected; 10 minutes: 17 against 56 in the 12 hours before (ratio 21.9)
    assert levels == {"15m": "IV", "10m": "I"}
    with pytest.raises(Invalid, match="levels III, II and I"):
        alerts.add_rule(feed.session, scheme, "spike", {"ratio": 5}, [4, 9, 12], actor="test")


def test_share_of_negative_posts_fires_at_its_level(feed):
    alerts.add_rule(feed.session, feed.scheme(), "share", {}, actor="test")
    burst(feed, 15, sentiment="anger")
    burst(feed, 10, start=13, sentiment="positive")
    [change] = feed.check()
    assert change.alert.evidence["share"] == 0.6 and change.alert.count == 25
    assert change.alert.level == "III"  # 0.6 reaches III; II is 0.75
    assert change.alert.baseline == 0.0  # the baseline hours had no negative post


def test_a_keyword_fires_for_each_word_found(feed):
    scheme = feed.scheme()
    alerts.add_rule(feed.session, scheme, "keyword", {"words": ["变压器爆炸", "大面积停电"]}, actor="test")
    feed.add([5, 3], text="停电 听说变压器爆炸了")
    feed.add([200], text="停电 大面积停电")  # before the window
    [change] = feed.check()
    assert change.alert.key == "变压器爆炸" and change.alert.count == 2 and change.alert.level == "IV"
    assert change.alert.evidence["word"] == "变压器爆炸"
    assert "%22%E5%8F%98%E5%8E%8B%E5%99%A8%E7%88%86%E7%82%B8%22" in change.alert.query  # the word as a phrase
    with pytest.raises(Invalid, match="at least one word"):
        alerts.add_rule(feed.session, scheme, "keyword", {}, actor="test")


def test_within_the_cool_down_the_alert_is_updated_after_it_a_new_one_opens(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    [first] = feed.check()
    assert feed.check(minutes_after=20) == []  # the window 12:05-12:20 has no posts: the condition lapsed
    feed.add([-21 - i * 0.25 for i in range(25)])  # 12:21-12:27
    [within] = feed.check(minutes_after=28)  # 28 minutes after it was last found: the same alert
    assert within.alert.id == first.alert.id and not within.opened
    assert feed.check(minutes_after=50) == []
    feed.add([-60 - i * 0.25 for i in range(25)])  # 13:00-13:06
    [later] = feed.check(minutes_after=66)  # 38 minutes since it was last found
    assert later.opened and later.alert.id != first.alert.id
    assert len(alerts.list_alerts(feed.session)) == 2


def test_a_closed_alert_stays_closed_while_its_condition_lasts(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    [change] = feed.check()
    alerts.close(feed.session, change.alert, actor="duty")
    feed.session.commit()
    assert feed.check(minutes_after=5) == []
    assert [a.state for a, _ in alerts.list_alerts(feed.session)] == ["closed"]


def test_handling_steps_in_order_and_out_of_order_refused_each_audited(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    [change] = feed.check()
    alert = change.alert
    release = a_release(feed)
    with pytest.raises(InvalidTransition, match="cannot answer an alert in state new"):
        alerts.answer(feed.session, alert, release, actor="duty")
    alerts.acknowledge(feed.session, alert, actor="duty")
    assert alert.state == "handling" and alert.acknowledged_at is not None
    with pytest.raises(InvalidTransition, match="cannot acknowledge an alert in state handling"):
        alerts.acknowledge(feed.session, alert, actor="duty")
    due = NOW + timedelta(hours=5)
    alerts.assign(feed.session, alert, due, org=feed.org, actor="duty")
    assert alert.assigned_org_id == feed.org.id and alert.due_at == datetime(2024, 7, 25, 9, 0)
    with pytest.raises(Invalid, match="a person or to an organisation"):
        alerts.assign(feed.session, alert, due, actor="duty")
    alerts.answer(feed.session, alert, release, actor="duty")
    assert alert.state == "answered" and alert.release_id == release.id
    alerts.close(feed.session, alert, actor="duty")
    with pytest.raises(InvalidTransition, match="cannot close an alert in state closed"):
        alerts.close(feed.session, alert, actor="duty")
    feed.session.commit()

    entries = feed.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [entry.action for entry in entries] == [
        "alert.scheme_add", "alert.rule_add", "alert.open", "alert.acknowledge", "alert.assign", "alert.answer",
        "alert.close"]
    assert {entry.org_id for entry in entries} == {feed.org.id}  # the steps too: the scheme's organisation
    assert entries[2].target == f"alert:{alert.id}" and entries[2].detail["level"] == "I"
    assert entries[4].detail["org"] == "海口供电局" and entries[4].detail["from"] == "handling"


def a_release(feed) -> Release:
    """A draft release of an incident, to answer an alert."""
    user = User(username="duty", display_name="duty", password_hash="-", org_id=feed.org.id, roles=["drafter"])
    feed.session.add(user)
    feed.session.flush()
    incident = Incident(title="龙华区停电", created_by=user.id)
    feed.session.add(incident)
    feed.session.flush()
    release = Release(incident_id=incident.id, drafting_org_id=feed.org.id, required_org_ids=[feed.org.id],
                      channel="weibo", created_by=user.id)
    feed.session.add(release)
    feed.session.flush()
    return release


def test_a_raised_level_is_an_audit_entry(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, [30, 40, 50], actor="test")
    burst(feed, 6)
    feed.add([1, 1, 1, 1])
    assert feed.check() == []  # 10 posts, under the minimum 20
    burst(feed, 12)
    [opened] = feed.check()
    assert opened.alert.level == "IV"  # 22 posts against 1
    burst(feed, 10, start=12)
    [raised] = feed.check(minutes_after=0.5)
    assert raised.alert.level == "III"
    actions = feed.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["alert.open", "alert.level"]


def test_the_evidence_keeps_the_figures_that_reached_the_level_beside_the_latest(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, [30, 40, 50], actor="test")
    burst(feed, 22)
    burst(feed, 10, start=12)
    [opened] = feed.check()
    reached = {"at": "2024-07-25T04:00:00+00:00", "count": 32, "baseline": 1.0, "ratio": 32.0, "baseline_count": 48,
               "window_s": 900, "baseline_s": 43200}
    assert opened.alert.level == "III" and opened.alert.evidence["level_reached"] == reached
    [updated] = feed.check(minutes_after=5)  # fewer posts in the window now, level III stays
    assert updated.alert.level == "III" and updated.alert.evidence["ratio"] < 30 and updated.alert.count < 32
    assert updated.alert.evidence["level_reached"] == reached

    [fired] = alerts.backtest(feed.session, feed.store, open_index(feed.home), NOW - timedelta(minutes=5),
                              NOW + timedelta(minutes=5))
    assert (fired.level, fired.reached_at, fired.reached.count) == ("III", NOW, 32)
    assert fired.finding.count < 32  # it opened at level IV, five minutes before
    assert alerts.fired_json(fired)["evidence"]["level_reached"] == reached


def test_a_check_as_at_a_past_time_leaves_an_alert_found_since_as_it_is(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    feed.add([-1, -2, -3])
    feed.check()
    [updated] = feed.check(minutes_after=5)
    assert feed.check() == []
    feed.session.refresh(updated.alert)
    assert updated.alert.count == 20 and updated.alert.updated_at == datetime(2024, 7, 25, 4, 5)


def test_a_removed_scheme_is_no_longer_checked_and_its_name_is_free(feed):
    scheme = feed.scheme()
    alerts.add_rule(feed.session, scheme, "spike", {}, actor="test")
    with pytest.raises(Invalid, match="exists already"):
        feed.scheme()
    alerts.remove_scheme(feed.session, scheme, actor="test")
    burst(feed, 25)
    assert feed.check() == []
    assert feed.scheme().id != scheme.id


def test_the_alert_states_keep_their_values_and_the_table_is_the_handling():
    assert [state.value for state in AlertState] == ["new", "handling", "answered", "closed"]
    a = AlertState
    edges = {(start, to) for starts, to in ALERT_STEPS.values() for start in starts}
    assert edges == {(a.NEW, a.HANDLING), (a.HANDLING, a.HANDLING), (a.HANDLING, a.ANSWERED), (a.NEW, a.CLOSED),
                     (a.HANDLING, a.CLOSED), (a.ANSWERED, a.CLOSED), (a.ANSWERED, a.HANDLING), (a.CLOSED, a.HANDLING)}


@pytest.mark.parametrize("step", ALERT_STEPS)
def test_an_alert_step_sets_the_state_it_leads_to_or_refuses(step):
    starts, to = ALERT_STEPS[step]
    for state in AlertState:
        alert = SimpleNamespace(state=state)
        if state in starts:
            assert move_alert(alert, step) is state and alert.state is to
        else:
            with pytest.raises(InvalidTransition):
                move_alert(alert, step)
            assert alert.state is state


def test_an_alert_is_linked_to_an_incident_its_handler_sees_and_the_incident_lists_it(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    [change] = feed.check()
    alert = change.alert
    ours = feed.session.get(Incident, a_release(feed).incident_id)
    duty = feed.session.scalars(select(User).where(User.username == "duty")).one()
    city = Organisation(name="海口市人民政府", kind="government", level="city")
    feed.session.add(city)
    feed.session.flush()
    outsider = User(username="outsider", display_name="outsider", password_hash="-", org_id=city.id,
                    roles=["analyst"])
    feed.session.add(outsider)
    feed.session.flush()
    theirs = Incident(title="海口市停电", created_by=outsider.id)
    feed.session.add(theirs)
    feed.session.flush()
    admin = SimpleNamespace(roles=["admin"], org_id=city.id)
    assert alerts.incidents_seen(feed.session, duty) == [ours]
    assert alerts.incidents_seen(feed.session, admin) == [theirs, ours]

    with pytest.raises(Forbidden) as refused:  # not an alert of the outsider's organisation
        alerts.link_incident(feed.session, alert, theirs, user=outsider, actor="outsider")
    assert refused.value.code == "alert_not_handled"
    with pytest.raises(Forbidden) as refused:  # not an incident of duty's organisation
        alerts.link_incident(feed.session, alert, theirs, user=duty, actor="duty")
    assert refused.value.code == "incident_not_seen"
    assert alerts.incident_alerts(feed.session, duty, ours, []) == []

    alerts.link_incident(feed.session, alert, ours, user=duty, actor="duty")
    assert alert.incident_id == ours.id
    assert alerts.incident_alerts(feed.session, duty, ours, []) == [(alert, change.rule, None)]
    assert alerts.incident_alerts(feed.session, outsider, ours, []) == []  # another organisation's alert
    alerts.link_incident(feed.session, alert, theirs, actor="cli")  # the home's operator links any
    assert alerts.incident_alerts(feed.session, admin, theirs, []) == [(alert, change.rule, None)]
    feed.session.commit()
    links = feed.session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.link")
                                 .order_by(AuditEntry.id)).all()
    assert [(entry.actor, entry.target, entry.detail) for entry in links] == [
        ("duty", f"alert:{alert.id}", {"from": None, "to": ours.id}),
        ("cli", f"alert:{alert.id}", {"from": ours.id, "to": theirs.id})]


def test_a_rule_that_fails_is_logged_and_the_others_still_fire_in_a_check_and_a_backtest(feed, caplog):
    scheme = feed.scheme()
    broken = AlertRule(scheme_id=scheme.id, kind="spike", params={"window": 99999 * 86400}, levels=[5, 10, 20])
    feed.session.add(broken)  # stored before durations were bounded: its window starts before the year 1900
    feed.session.flush()
    good = alerts.add_rule(feed.session, scheme, "spike", {}, actor="test")
    burst(feed, 25)
    [opened] = feed.check()
    assert opened.opened and opened.rule.id == good.id
    assert f"alert rule {broken.id} of scheme 龙华停电 was not evaluated" in caplog.text
    fired = alerts.backtest(feed.session, feed.store, open_index(feed.home), NOW, NOW)
    assert [item.rule.id for item in fired] == [good.id]


def test_a_rule_whose_database_query_fails_leaves_the_other_rules_alerts_stored(feed, monkeypatch, caplog):
    """A database error aborts a PostgreSQL transaction: each rule is evaluated in a savepoint."""
    good = alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    failing = alerts.add_scheme(feed.session, "故障方案", feed.org, "故障", actor="test")
    broken = alerts.add_rule(feed.session, failing, "spike", {}, actor="test")
    count = alert_rules.Probe.count

    def count_or_fail(probe, span, **options):
        if probe.scope.text == "故障":
            probe.session.execute(text("SELECT no_such_column FROM alerts"))
        return count(probe, span, **options)

    monkeypatch.setattr(alert_rules.Probe, "count", count_or_fail)
    burst(feed, 25)
    [opened] = feed.check()
    assert opened.opened and opened.rule.id == good.id
    assert f"alert rule {broken.id} of scheme 故障方案 was not evaluated" in caplog.text
    with open_sessions(feed.store.engine)() as other:
        assert other.scalars(select(Alert.rule_id)).all() == [good.id]


def test_an_alert_whose_evidence_lacks_the_level_reached_is_updated_without_a_null_one(feed):
    alerts.add_rule(feed.session, feed.scheme(), "spike", {}, actor="test")
    burst(feed, 25)
    [opened] = feed.check()
    opened.alert.evidence = {name: value for name, value in opened.alert.evidence.items()
                             if name != "level_reached"}  # as an alert opened by an earlier release
    [updated] = feed.check(minutes_after=1)
    assert not updated.opened and updated.alert.level == opened.alert.level
    assert "level_reached" not in updated.alert.evidence
