"""An incident's dashboard and its page's timeline choose their buckets by the incident's
age: a young one (a drill, the demo's day in 30 minutes) by the minute, so its first
minutes are a line, not one dot (real store, real embedded index)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.schema import CHINA_TZ, make_post
from core.store import Store
from desk import dashboard, psr
from desk.tables import Incident
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending

NOW = datetime(2026, 12, 5, 9, 25, tzinfo=timezone.utc)  # 17:25 in China
MINUTES_AGO = (20, 12, 12, 3)  # the incident's posts


def _home(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{n}", text=f"滨海停电第{n}条",
                                  created_at=(NOW - timedelta(minutes=ago)).astimezone(CHINA_TZ).isoformat())
                        for n, ago in enumerate(MINUTES_AGO)])
    index = EmbeddedIndex(tmp_path / "index")
    index_pending(store, index)
    return store, index


def _incident(age: timedelta) -> Incident:
    return Incident(id=1, title="滨海停电", query="停电", started_at=(NOW - age).replace(tzinfo=None))


def test_a_young_incidents_dashboard_and_timeline_count_by_the_minute(tmp_path, sessions):
    store, index = _home(tmp_path)
    young = _incident(timedelta(minutes=25))
    board = dashboard.for_incident(store, index, young, now=NOW)
    assert board.interval == "minute"
    assert board.buckets == [f"2026-12-05T17:{minute:02}" for minute in range(5, 23)]  # the first post to the last
    assert board.volume["weibo"][:9] == [1, 0, 0, 0, 0, 0, 0, 0, 2] and sum(board.volume["weibo"]) == 4
    assert dashboard.for_incident(store, index, young, "hour", now=NOW).buckets == ["2026-12-05T17"]  # as asked

    with sessions() as session:
        timeline = psr.timeline(session, store, index, young, NOW)
    assert timeline["interval"] == "minute" and len(timeline["buckets"]) == 21  # 17:05 to now, 17:25
    assert timeline["pressure"]["posts"][:9] == [1, 0, 0, 0, 0, 0, 0, 0, 2]
    store.close()


def test_an_incident_older_than_the_short_window_counts_by_the_hour(tmp_path):
    store, index = _home(tmp_path)
    older = _incident(dashboard.SHORT_WINDOW)
    board = dashboard.for_incident(store, index, older, now=NOW)
    assert board.interval == "hour" and board.buckets == ["2026-12-05T17"]
    store.close()
