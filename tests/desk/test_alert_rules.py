"""The rule kinds rumor and clock, default level thresholds that follow a rule's own
threshold, and the backtest (a dry run of the rules over stored posts), on posts stored,
tagged and indexed in a real embedded index."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.schema import Tags, make_post
from desk import alerts
from desk.errors import Invalid, NotFound
from desk.tables import Alert, Incident, Release, User
from indexes.backends import open_index
from indexes.indexer import index_pending
from tests.desk.test_alerts import NOW, Feed, burst

RUMOR = "听说龙华区变电站爆炸了，全区停电要三天才能恢复，大家赶紧囤水囤粮"


class RumorFeed(Feed):
    def rumors(self, minutes_before: list[float], text: str = RUMOR, rumor_prob: float = 0.9,
               sentiment: str = "anxiety", author_id: str | None = None, platform: str = "weibo") -> None:
        """Copies of one text at these minutes before NOW, tagged with ``rumor_prob``."""
        self.session.commit()
        posts = []
        for minutes in minutes_before:
            self.serial += 1
            posts.append(make_post(platform=platform, platform_id=f"p{self.serial}", text=text, author_id=author_id,
                                   created_at=(NOW - timedelta(minutes=minutes)).isoformat()))
        self.store.upsert_posts(posts)
        ids = [post["id"] for post in self.store.get_posts(range(1, self.serial + 1)).values() if post["tags"] is None]
        self.store.save_tags([Tags(post_id, rumor_prob, sentiment, 0.9, [], "test-model") for post_id in ids])
        index_pending(self.store, open_index(self.home))

    def cluster_of(self, text: str) -> str:
        clusters = {post["cluster"] for post in self.store.get_posts(range(1, self.serial + 1)).values()
                    if post["text"] == text}
        assert len(clusters) == 1
        return clusters.pop()


@pytest.fixture
def feed(home, store):
    feed = RumorFeed(home, store)
    feed.add([16 + 15 * i for i in range(48)], sentiment="positive")  # one post every 15 minutes for 12 hours
    yield feed
    feed.session.close()


def test_default_levels_follow_the_rule_threshold(feed):
    scheme = feed.scheme()
    share = alerts.add_rule(feed.session, scheme, "share", {"share": 0.6}, actor="test")
    assert share.levels == [0.68, 0.8, 0.92]  # placed between the share and 1 as 0.6, 0.75, 0.9 are from 0.5
    assert alerts.add_rule(feed.session, scheme, "spike", {"ratio": 6}, actor="test").levels == [10, 20, 40]
    assert alerts.add_rule(feed.session, scheme, "spike", {}, actor="test").levels == [5, 10, 20]
    assert alerts.add_rule(feed.session, scheme, "share", {}, actor="test").levels == [0.6, 0.75, 0.9]

    burst(feed, 15, sentiment="anger")
    burst(feed, 10, start=13, sentiment="positive")
    found = {change.rule.id: change.alert for change in feed.check()}
    assert found[share.id].evidence["share"] == 0.6 and found[share.id].level == "IV"


def test_a_new_rumor_cluster_fires_once_per_cluster(feed):
    alerts.add_rule(feed.session, feed.scheme(), "rumor", {}, actor="test")
    feed.rumors([12, 9, 6, 3])
    feed.rumors([10, 5], text="据说停电是因为有人偷电缆，电力公司一直瞒着不说实话")  # under the minimum of 3
    feed.rumors([8, 7, 4], text="龙华区停电了，供电局说今晚十点前恢复，请大家耐心等待", rumor_prob=0.1)
    [change] = feed.check()
    cluster = feed.cluster_of(RUMOR)
    assert change.opened and change.alert.key == cluster and change.alert.count == 4
    assert change.alert.level == "IV" and change.alert.evidence["new"] is True
    assert change.alert.first_post_at == datetime(2024, 7, 25, 3, 48)  # 11:48 China time
    assert f"cluster={cluster}" in change.alert.query and "rumor_min=0.5" in change.alert.query

    feed.rumors([-2, -3, -4])  # 6 in 11:50-12:05, one before: growing at 24 an hour
    [again] = feed.check(minutes_after=5)
    assert not again.opened and again.alert.id == change.alert.id


def test_a_known_rumor_cluster_fires_when_it_grows_at_the_rate(feed):
    scheme = feed.scheme()
    slow = alerts.add_rule(feed.session, scheme, "rumor", {}, actor="test")  # 20 posts an hour
    fast = alerts.add_rule(feed.session, scheme, "rumor", {"rate": 10}, actor="test")
    feed.rumors([300, 200])  # seen hours before
    feed.rumors([12, 8, 4])  # 3 in 15 minutes: 12 an hour
    [change] = feed.check()
    assert change.rule.id == fast.id != slow.id
    assert change.alert.evidence["new"] is False and change.alert.evidence["rate_per_h"] == 12.0


def test_a_watched_account_fires_for_its_negative_or_rumor_like_posts(feed):
    alerts.add_rule(feed.session, feed.scheme(), "account", {}, actor="test")
    alerts.watch_account(feed.session, feed.org, "weibo", "u1", "龙华热心网友", actor="test")
    alerts.watch_account(feed.session, feed.org, "weibo", "u2", actor="test")
    feed.rumors([5], text="供电局又停电，一点用都没有", sentiment="anger", rumor_prob=0.1, author_id="u1")
    feed.rumors([3], text="感谢抢修师傅，辛苦了", sentiment="positive", rumor_prob=0.1, author_id="u1")
    feed.rumors([30], text="昨晚停电到现在还没来电", sentiment="anger", rumor_prob=0.1, author_id="u1")  # before
    feed.rumors([4], text="内部消息：变电站被烧，要停一周", sentiment="positive", rumor_prob=0.8, author_id="u2")
    feed.rumors([2], text="停电停得人都要疯了", sentiment="anger", rumor_prob=0.1, author_id="u3")  # not watched
    found = {change.alert.key: change.alert for change in feed.check()}
    assert sorted(found) == ["weibo:u1", "weibo:u2"]
    first = found["weibo:u1"]
    assert first.count == 1 and first.level == "IV" and first.first_post_at == datetime(2024, 7, 25, 3, 55)
    assert feed.store.get_posts(first.post_ids)[first.post_ids[0]]["text"] == "供电局又停电，一点用都没有"
    assert first.evidence["account_name"] == "龙华热心网友" and found["weibo:u2"].evidence["rumor_like"] == 1
    assert "platform=weibo" in first.query

    with pytest.raises(Invalid, match="watches weibo account u1 already"):
        alerts.watch_account(feed.session, feed.org, "weibo", "u1", actor="test")
    with pytest.raises(Invalid, match="unknown platform douyin"):
        alerts.watch_account(feed.session, feed.org, "douyin", "u9", actor="test")
    alerts.unwatch_account(feed.session, feed.org, "weibo", "u2", actor="test")
    assert [item.account_id for item in alerts.watched_accounts(feed.session, feed.org)] == ["u1"]
    with pytest.raises(NotFound, match="watches no weibo account u2"):
        alerts.unwatch_account(feed.session, feed.org, "weibo", "u2", actor="test")
    assert [change.alert.key for change in feed.check(minutes_after=1)] == ["weibo:u1"]


def test_a_rumor_clock_near_its_end_without_an_answer_fires(feed):
    scheme = feed.scheme()
    alerts.add_rule(feed.session, scheme, "clock", {}, actor="test")
    user = User(username="duty", display_name="duty", password_hash="x", org_id=feed.org.id, roles=["drafter"],
                active=True, failed_logins=0)
    feed.session.add(user)
    feed.session.flush()
    incident = Incident(title="龙华区停电", query="停电", major=True, started_at=datetime(2024, 7, 25, 0, 0),
                        created_by=user.id)
    feed.session.add(incident)
    feed.rumors([270, 100], text=f"停电 {RUMOR}")  # the 5-hour clock started 4.5 hours ago
    cluster = feed.cluster_of(f"停电 {RUMOR}")
    assert feed.check(minutes_after=-60) == []  # 3.5 of its 5 hours gone: not yet

    [change] = feed.check()
    alert = change.alert
    assert alert.key == f"{incident.id}/{cluster}/authoritative_information"
    assert alert.level == "II"  # 0.9 of the clock gone: II (0.9), not I (0.95)
    assert alert.evidence["remaining_s"] == 1800 and alert.count == 2  # the press conference's 24 h: far
    assert alert.first_post_at == datetime(2024, 7, 24, 23, 30)

    release = Release(incident_id=incident.id, drafting_org_id=feed.org.id, required_org_ids=[feed.org.id],
                      channel="weibo", published_at=datetime(2024, 7, 25, 3, 50), rumor_clusters=[cluster],
                      created_by=user.id)
    feed.session.add(release)
    feed.session.flush()
    assert feed.check(minutes_after=10) == []  # answered in time: met
    before = NOW - timedelta(minutes=15)  # before the answer was published it was still running
    assert alerts.backtest(feed.session, feed.store, open_index(feed.home), before, before) != []
    with pytest.raises(Invalid, match="a clock rule takes no window"):  # its clocks are its windows
        alerts.add_rule(feed.session, scheme, "clock", {"window": 900}, actor="test")


def test_backtest_replays_the_posts_in_time_order_and_writes_nothing(feed):
    scheme = feed.scheme()
    spike = alerts.add_rule(feed.session, scheme, "spike", {}, actor="test")
    burst(feed, 25)  # 11:46 to 12:00; the count reaches 20 between 11:55 and 12:00
    feed.add([-40], text="停电 另一条")

    fired = alerts.backtest(feed.session, feed.store, open_index(feed.home), NOW - timedelta(minutes=30),
                            NOW + timedelta(minutes=60))
    assert [(item.rule.id, item.opened_at, item.finding.count) for item in fired] == [(spike.id, NOW, 25)]
    assert fired[0].level == "I" and fired[0].updated_at == NOW  # at 12:05 the window holds 17: under 20
    assert alerts.fired_json(fired[0])["opened_at"] == "2024-07-25T04:00:00+00:00"
    assert feed.session.scalars(select(Alert)).all() == []

    hourly = alerts.backtest(feed.session, feed.store, open_index(feed.home), NOW - timedelta(minutes=30),
                             NOW + timedelta(minutes=60), every=timedelta(minutes=7))
    assert [item.opened_at for item in hourly] == [NOW - timedelta(minutes=2)]  # 11:58: 21 posts since 11:43


@pytest.mark.parametrize("kind, params, levels, refused", [
    ("spike", {"window": 8 * 86400}, None, "window is at most 7d, not 8d"),
    ("spike", {"baseline": 91 * 86400}, None, "baseline is at most 90d, not 91d"),
    ("spike", {"cool_down": 99999 * 86400}, None, "cool_down is at most 7d, not 99999d"),
    ("rumor", {"rate": float("inf")}, None, "rate must be a number above 0, not inf"),
    ("spike", {"ratio": float("nan")}, None, "ratio must be a number above 0, not nan"),
    ("spike", {}, [5, 10, float("inf")], "levels must be a number above 0, not inf"),
    ("rumor", {"probability": 5}, None, "probability is a share above 0 and at most 1, not 5"),
    ("share", {"share": 1.5}, [1.6, 1.7, 1.8], "share is a share above 0 and at most 1, not 1.5"),
    ("share", {"share": 0.5}, [0.6, 0.8, 1.2], "levels is a share above 0 and at most 1, not 1.2"),
    ("clock", {"elapsed": 1.5}, None, "elapsed is a share above 0 and at most 1, not 1.5"),
])
def test_a_rules_numbers_are_finite_its_shares_at_most_1_and_its_durations_bounded(feed, kind, params, levels,
                                                                                    refused):
    scheme = feed.scheme()
    with pytest.raises(Invalid, match=refused):
        alerts.add_rule(feed.session, scheme, kind, params, levels, actor="test")
    assert alerts.list_rules(feed.session, scheme) == []
    alerts.add_rule(feed.session, scheme, "spike", {"window": 7 * 86400, "baseline": 90 * 86400,
                                                    "cool_down": 7 * 86400}, actor="test")
    alerts.add_rule(feed.session, scheme, "share", {"share": 0.9}, [0.95, 0.99, 1], actor="test")


def test_a_watched_accounts_id_fits_the_key_of_its_alerts(feed):
    """The key is platform:account_id, in as many characters as the table holds (PostgreSQL
    refuses a longer one, and with it every alert of the evaluation)."""
    alerts.add_rule(feed.session, feed.scheme(), "account", {}, actor="test")
    longest = "u" * alerts.MAX_ACCOUNT_ID
    with pytest.raises(Invalid, match=f"a watched account's id has at most {alerts.MAX_ACCOUNT_ID} characters"):
        alerts.watch_account(feed.session, feed.org, "wechat", longest + "u", actor="test")
    alerts.watch_account(feed.session, feed.org, "wechat", longest, actor="test")
    feed.rumors([5], text="又停电了", sentiment="anger", rumor_prob=0.1, author_id=longest, platform="wechat")
    [opened] = feed.check()
    assert opened.alert.key == f"wechat:{longest}" and len(opened.alert.key) == alerts.MAX_NAME
