"""Rumor clocks: the deadlines for answering a rumor cluster, and its volume around the answer."""

from datetime import datetime, timedelta, timezone

from core.schema import make_post
from core.store import Store
from desk.clocks import VOLUME_AFTER, before_and_after, load_clocks, rumor_clock

START = datetime(2024, 7, 25, 8, 0, tzinfo=timezone.utc)


def test_the_shipped_clocks_are_the_state_councils_five_and_twenty_four_hours():
    clocks = {clock.name: clock for clock in load_clocks()}
    assert clocks["authoritative_information"].hours == 5 and clocks["press_conference"].hours == 24


def test_deadlines_run_are_met_or_are_missed():
    clocks = load_clocks()
    running = rumor_clock("c", START, [], START + timedelta(hours=2), clocks, major=True)
    assert [(d.name, d.state) for d in running.deadlines] == [("authoritative_information", "running"),
                                                            ("press_conference", "running")]
    assert running.deadlines[0].remaining == timedelta(hours=3) and running.spreading_for == timedelta(hours=2)
    late = rumor_clock("c", START, [(7, START + timedelta(hours=6), "press_conference")], START + timedelta(hours=7),
                       clocks, major=True)
    assert [d.state for d in late.deadlines] == ["missed", "met"] and late.answered_by == [7]
    unanswered = rumor_clock("c", START, [(8, None, "weibo")], START + timedelta(hours=30), clocks, major=False)
    assert [d.state for d in unanswered.deadlines] == ["missed"]  # no press-conference clock for a minor one


def test_a_clusters_volume_before_and_after_its_answer(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    rumor = "【紧急通知】今晚8点起全市大面积停电三天，请大家提前储水储粮，家里有老人孩子的注意安全，转发扩散！"
    store.upsert_posts([make_post(platform="weibo", platform_id=f"r{n}", text=rumor + "!" * (n % 3),
                                  created_at=START + timedelta(minutes=20 * n)) for n in range(12)])
    cluster = store.get_post(1)["cluster"]
    published = START + timedelta(hours=3)  # an hour later: 3 copies in the hour before, 3 after
    times = store.cluster_times(cluster, START - timedelta(days=1))
    assert len(times) == 12
    before, after, window = before_and_after(times, published, START + timedelta(hours=4))
    assert (before, after, window) == (3, 3, timedelta(hours=1))
    store.close()


def test_only_a_press_conference_release_meets_the_press_conference_clock():
    clocks = load_clocks()
    weibo = rumor_clock("c", START, [(1, START + timedelta(hours=1), "weibo")], START + timedelta(hours=2),
                        clocks, major=True)
    assert [(d.name, d.state) for d in weibo.deadlines] == [("authoritative_information", "met"),
                                                          ("press_conference", "running")]
    later = rumor_clock("c", START, [(1, START + timedelta(hours=1), "weibo")], START + timedelta(hours=25),
                        clocks, major=True)
    assert [d.state for d in later.deadlines] == ["met", "missed"]  # a day of Weibo posts is no press conference
    both = rumor_clock("c", START, [(1, START + timedelta(hours=1), "weibo"),
                                    (2, START + timedelta(hours=20), "press_conference")],
                       START + timedelta(hours=25), clocks, major=True)
    assert [d.state for d in both.deadlines] == ["met", "met"] and both.answered_at == START + timedelta(hours=1)


def test_the_volume_around_an_answer_waits_until_a_window_has_passed():
    published = START + timedelta(hours=3)
    times = [START + timedelta(minutes=20 * n) for n in range(12)]
    assert before_and_after(times, published, published) is None  # not "0.0 hours: 0 before, 0 after"
    assert before_and_after(times, published, published + VOLUME_AFTER - timedelta(seconds=1)) is None
    assert before_and_after(times, published, published + VOLUME_AFTER) == (3, 3, timedelta(hours=1))
