"""The PSR timeline of an incident (desk.psr) from a real store and embedded index: the
pressure per bucket is what searches over the same buckets count, the fact sheet's values
and the responses in time order, the phases where the figures turn."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta

from core.schema import CHINA_TZ
from core.store import Store
from desk import psr
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report, render_html
from desk.tables import Incident
from indexes.backends import open_index
from indexes.query import SearchQuery
from indexes.results import search
from review_ui import create_app
from tests.conftest import cli, html, logged_in_client
from tests.desk.psr_home import BEFORE, FIRST_RUMOR_AT, NOW, OPENED, QUERY, RISE, psr_home


def _timeline(settings, incident_id=1, now=NOW):
    store, index = Store(settings.database_url), open_index(settings)
    try:
        with open_sessions(store.engine, settings.home)() as session:
            return psr.timeline(session, store, index, session.get(Incident, incident_id), now)
    finally:
        store.close()


def test_the_pressure_per_bucket_is_what_the_same_searches_count(tmp_path):
    settings = psr_home(tmp_path)
    timeline = _timeline(settings)
    assert timeline["interval"] == "hour" and timeline["since"] == (OPENED - timedelta(days=1)).isoformat()
    buckets = [datetime.fromisoformat(bucket) for bucket in timeline["buckets"]]
    assert buckets[0] == BEFORE[0].replace(minute=0) and buckets[-1] == NOW  # to the window's end
    assert all(later - earlier == timedelta(hours=1) for earlier, later in zip(buckets, buckets[1:]))

    pressure = timeline["pressure"]
    store, index = Store(settings.database_url), open_index(settings)
    for start, posts, share in zip(buckets, pressure["posts"], pressure["negative_share"]):
        bucket = SearchQuery(text=QUERY, since=start, until=start + timedelta(hours=1) - timedelta(microseconds=1))
        assert search(store, index, bucket).total == posts, start
        negative = search(store, index, replace(bucket, polarities=("negative",))).total
        assert share == (negative / posts if posts else None), start
    store.close()
    counts = dict(zip(buckets, pressure["posts"]))
    assert {hour: counts[OPENED.replace(hour=hour)] for hour in RISE} == RISE
    assert sum(pressure["posts"]) == len(BEFORE) + sum(RISE.values())
    first_seen = {bucket: n for bucket, n in zip(buckets, pressure["rumor_clusters"]) if n}
    assert first_seen == {OPENED.replace(hour=hour): 1 for hour in FIRST_RUMOR_AT.values()}
    assert {bucket: n for bucket, n in zip(buckets, pressure["alerts"]) if n} == {OPENED.replace(hour=8): 1}


def test_the_state_the_responses_and_the_phases(tmp_path):
    timeline = _timeline(psr_home(tmp_path))
    state = timeline["state"]
    assert [(datetime.fromisoformat(v["at"]).hour, v["value"]) for v in state["households"]] == [(7, 12000), (11, 8000)]
    assert [v["value"] for v in state["affected_areas"]] == ["城东、城南"]
    assert [v["value"] for v in state["restoration_estimate"]] == ["今晚22时"]
    response = [(datetime.fromisoformat(r["at"]).strftime("%H:%M"), r["kind"], r["label"])
                for r in timeline["response"]]
    assert response == [
        ("08:45", "alert_acknowledged", "III级预警：爆炸"), ("09:30", "press_conference", "城东停电新闻发布会"),
        ("10:30", "release", "关于城东变电站的情况说明"), ("12:10", "alert_closed", "III级预警：爆炸")]

    phases = {phase["phase"]: phase for phase in timeline["phases"]}
    assert list(phases) == ["onset", "peak", "recovery"]
    assert phases["onset"]["at"] == OPENED.replace(hour=7).isoformat()  # 3 posts, over twice 4 in 24 hours
    assert "超过事发前基线（每时段0.2条）的两倍" in phases["onset"]["reason"]
    assert phases["peak"]["at"] == OPENED.replace(hour=9).isoformat() and "10条" in phases["peak"]["reason"]
    assert phases["recovery"]["at"] == OPENED.replace(hour=11).isoformat()  # 4 < 10 / 2 from then on



def test_an_alert_opened_before_the_posts_rise_marks_the_onset():
    phases = psr._phases(["2024-07-24T07", "2024-07-24T08"], [1, 5], {"2024-07-24T07": 1}, 0.0, "hour")
    assert phases[0] == {"phase": "onset", "at": "2024-07-24T07:00:00+08:00", "reason": "首条预警生成",
                         "code": "first_alert", "values": {}}
    assert [phase["phase"] for phase in phases] == ["onset", "peak"]  # still at its peak: no recovery


def test_an_onset_without_posts_before_the_incident_says_so_rather_than_twice_nothing():
    [onset, _] = psr._phases(["2024-07-24T07", "2024-07-24T08"], [1, 5], {}, 0.0, "hour")
    assert onset["reason"] == "信息量达到5条，事发前无相关信息"


def test_an_incident_without_posts_has_an_empty_timeline(tmp_path):
    timeline = _timeline(psr_home(tmp_path), incident_id=2)
    assert timeline["buckets"] == [] and timeline["phases"] == [] and timeline["state"] == {}
    assert timeline["pressure"] == {"posts": [], "negative_share": [], "rumor_clusters": [], "alerts": []}
    assert timeline["response"] == []


def test_the_special_report_carries_the_timeline_and_shows_its_phases_state_and_responses(tmp_path):
    settings = psr_home(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    with open_sessions(store.engine, settings.home)() as session:
        report = make_report("special", store, index, session, load_clocks(), incident=session.get(Incident, 1),
                             now=NOW)
    store.close()
    assert report.sections["psr"] == _timeline(settings)
    page = render_html(report)
    section = page[page.index('<section id="psr">'):]
    assert "<tr><td>起始</td><td>2024-07-24 07:00</td>" in section and "<td>回落</td><td>2024-07-24 11:00</td>" in section
    rows = re.findall(r"<tr><td>2024-07-24 (\d\d:\d\d)</td><td>(\w+)</td><td>(.*?)</td></tr>", section)
    assert rows == [("07:30", "停电户数", "12000"), ("07:30", "停电区域", "城东、城南"), ("08:45", "确认预警", "III级预警：爆炸"),
                    ("09:30", "新闻发布会", "城东停电新闻发布会"), ("10:30", "发布信息", "关于城东变电站的情况说明"),
                    ("11:30", "停电户数", "8000"), ("12:00", "预计恢复时间", "今晚22时"), ("12:10", "关闭预警", "III级预警：爆炸")]

    special = json.loads(cli("report", "special", "--incident", "1", "--json", home=settings).stdout)
    assert {"interval", "buckets", "pressure", "state", "response", "phases", "query", "since", "until"} <= set(
        special["psr"])
    assert sum(special["psr"]["pressure"]["posts"]) == special["total_posts"]
    daily = json.loads(cli("report", "daily", "--date", "2024-07-24", "--json", home=settings).stdout)
    assert "psr" not in daily


def test_the_incident_page_draws_the_timeline_and_lists_its_numbers(tmp_path):
    settings = psr_home(tmp_path)
    app = create_app(settings)
    client = logged_in_client(app, roles=("admin",))
    page = html(client.get("/incidents/1?lang=zh"))
    section = page[page.index('id="psr-timeline"'):page.index('id="rumor-clocks"')]
    chart = json.loads(re.search(r'<script type="application/json" id="psr-data">(.*?)</script>', section,
                                 re.S).group(1))
    timeline = _timeline(settings, now=datetime.now(CHINA_TZ))
    assert chart["pressure"]["posts"] == timeline["pressure"]["posts"] and chart["buckets"][0] == "07-23"
    assert [phase["name"] for phase in chart["phases"]] == ["起始 · 高峰", "回落"]  # one line per bucket
    assert [fact["name"] for fact in chart["state"]] == ["停电户数"] and chart["names"]["posts"] == "信息量"
    assert [event["kind"] for event in chart["response"]] == ["alert_acknowledged", "press_conference", "release",
                                                              "alert_closed"]
    assert 'id="chart-psr"' in section and "psr.js" in section
    assert "<tr><td>高峰</td><td>2024-07-24 00:00</td>" in section  # by the day, the window reaching today
    assert "<tr><td>2024-07-24 09:30</td><td>新闻发布会</td><td>城东停电新闻发布会</td></tr>" in section
    assert "<tr><td>2024-07-24 00:00</td><td>35</td>" in section  # the day's posts, in the table too

    english = html(client.get("/incidents/1?lang=en"))
    assert "Timeline (pressure, state, response)" in english and "Press conference" in english
    phases = english[english.index('id="psr-phases"'):english.index('id="psr-pressure"')]
    assert "<td>The most posts: 35</td>" in phases and not re.search(r"[\u4e00-\u9fff]", phases)
    assert "<td>Alert acknowledged</td><td>Level III alert: 爆炸</td>" in english and "级预警" not in english
    analyst = html(logged_in_client(app).get("/incidents/1?lang=zh"))
    assert "III级预警：爆炸" not in analyst  # an alert only for those who see it, as the alerts section

    quiet = html(client.get("/incidents/2?lang=zh"))
    assert "时段内没有相关信息。" in quiet and 'id="chart-psr"' not in quiet
