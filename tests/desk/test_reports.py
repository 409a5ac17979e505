"""Briefings (desk.reports): the figures of a daily, special and flash report from a real
store and embedded index, each section with the search behind it, and the HTML page."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from core.store import Store
from desk import dashboard, reports
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report, render_html
from desk.tables import Incident
from desk.vocabulary import (ALERT_STATE_NAMES, CHANNEL_NAMES, CLOCK_NAMES, DEADLINE_NAMES, EMOTION_NAMES, PLATFORM_NAMES,
                             POLARITY_NAMES, SENTIMENT_NAMES)
from indexes.backends import open_index
from indexes.query import SearchQuery
from indexes.results import search
from tests.conftest import REPO
from tests.desk.report_home import DAY, DAY_BEFORE, ON_THE_DAY, QUERY, RUMOR, report_home

NOW = DAY + timedelta(days=1, hours=8)


def _report(settings, kind, **options):
    store, index = Store(settings.database_url), open_index(settings)
    try:
        with open_sessions(store.engine, settings.home)() as session:
            if kind == "special":
                options["incident"] = session.get(Incident, 1)
            return make_report(kind, store, index, session, load_clocks(), now=NOW, **options)
    finally:
        store.close()


def test_a_daily_report_counts_its_day_against_the_day_before_and_every_section_names_its_search(tmp_path):
    settings = report_home(tmp_path)
    report = _report(settings, "daily", day=DAY.date())
    figures = report.as_dict()
    assert figures["kind"] == "daily" and figures["query"] == ""
    assert figures["since"] == "2024-07-24T00:00:00+08:00" and figures["until"] == "2024-07-24T23:59:59.999999+08:00"
    assert figures["total_posts"] == ON_THE_DAY
    volume = figures["volume"]
    assert volume["previous"]["total"] == DAY_BEFORE and volume["change"] == (ON_THE_DAY - DAY_BEFORE) / DAY_BEFORE
    assert volume["previous"]["until"] == "2024-07-23T23:59:59.999999+08:00"
    assert sum(volume["counts"]) == ON_THE_DAY and len(volume["buckets"]) == len(volume["counts"])
    for name in ("summary", "volume", "platforms", "sentiment", "hot_words", "places", "top_posts", "top_accounts",
                 "rumors", "releases", "alerts"):
        assert {"query", "filters", "since", "until"} <= set(figures[name]), name

    # each count is the search's for the same query and window
    store, index = Store(settings.database_url), open_index(settings)
    base = SearchQuery(since=report.since, until=report.until)
    for platform, count in figures["platforms"]["platforms"]:
        assert search(store, index, replace(base, platforms=(platform,))).total == count
    assert sum(count for _, count in figures["platforms"]["media_types"]) == ON_THE_DAY
    rumors = figures["rumors"]
    assert rumors["filters"] == {"rumor": True} and search(store, index, replace(base, rumor=True)).total == 3
    store.close()
    assert dict(figures["places"]["provinces"]) == {"420000": 3, "460000": 2, "110000": 2}
    assert figures["places"]["names"]["420100"] == "武汉市"
    assert figures["hot_words"]["topics"] == [("outage_report", "停电报告", ON_THE_DAY)]
    engagement = [post["engagement"] for post in figures["top_posts"]["posts"]]
    assert engagement == sorted(engagement, reverse=True) and len(engagement) == 10
    assert figures["top_accounts"]["accounts"][0]["engagement"] >= figures["top_accounts"]["accounts"][-1]["engagement"]

    [cluster] = rumors["clusters"]
    assert cluster["count"] == 3 and cluster["post"]["text"] == RUMOR and cluster["answers"] == [1]
    assert [deadline["state"] for deadline in cluster["deadlines"]] == ["met"]  # a minor rumor: the 5 h clock only
    [release] = figures["releases"]["releases"]
    assert release["title"] == "关于城东变电站的情况说明"
    [alert] = figures["alerts"]["alerts"]
    assert alert["state"] == "closed" and alert["release"] == 1 and alert["acknowledged_at"]
    assert figures["summary"]["text"].startswith(f"本期共监测到信息{ON_THE_DAY}条，较上一周期（{DAY_BEFORE}条）上升50.0%。")
    assert "疑似谣言1组，已回应1组。" in figures["summary"]["text"] and "已处置1条" in figures["summary"]["text"]


def test_special_and_flash_reports_take_their_windows(tmp_path):
    settings = report_home(tmp_path)
    special = _report(settings, "special")
    assert special.query == QUERY and special.title == "舆情专报：7·24 停电"
    assert special.since == DAY + timedelta(hours=6) - timedelta(days=1) and special.until == NOW
    assert special.total_posts == DAY_BEFORE + ON_THE_DAY + 2  # from 06:00 the day before, till now
    assert [deadline["clock"] for deadline in special.sections["rumors"]["clusters"][0]["deadlines"]] == \
        ["authoritative_information", "press_conference"]  # a major incident's clocks
    assert len(special.sections["alerts"]["alerts"]) == 1

    flash = _report(settings, "flash", query=QUERY)
    assert (flash.since, flash.until) == (NOW - timedelta(hours=2), NOW) and flash.total_posts == 0
    assert "上一周期无相关信息" in flash.sections["summary"]["text"]
    since = DAY + timedelta(hours=19, minutes=30)
    flash = _report(settings, "flash", since=since, until=since + timedelta(hours=1))
    assert flash.total_posts == 3 and flash.sections["volume"]["previous"]["total"] == 0
    assert flash.sections["volume"]["change"] is None and len(flash.sections["rumors"]["clusters"]) == 1


def test_a_special_report_on_an_incident_without_search_words_says_it_covers_every_post(tmp_path):
    settings = report_home(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    try:
        with open_sessions(store.engine, settings.home)() as session:
            incident = session.get(Incident, 1)
            incident.query = ""
            report = make_report("special", store, index, session, load_clocks(), incident=incident, now=NOW)
    finally:
        store.close()
    summary = report.as_dict()["summary"]
    assert summary["every_post"] and summary["query"] == ""
    assert summary["sentences"][0] == "事件“7·24 停电”未设检索词，以下数字涵盖时段内的全部信息。"
    assert summary["sentences"][1].startswith(f"本期共监测到信息{report.total_posts}条")
    assert "相关的信息" not in summary["text"]
    assert re.search(r"负面信息\d+条，占\d+\.\d%。", summary["text"])  # a share to one decimal: no "占0%"
    assert not _report(settings, "special").as_dict()["summary"]["every_post"]


def test_the_summary_says_when_the_rumors_listed_are_only_the_most_copied():
    listed = [{"answered_at": None}] * dashboard.RUMORS
    sections = {"volume": {"query": "停电", "filters": {}, "since": None, "until": None, "change": None},
                "platforms": {"platforms": []}, "sentiment": {"polarity": []}, "hot_words": {"topics": []},
                "alerts": {"alerts": []}, "releases": {"releases": []}, "rumors": {"clusters": listed}}
    said = lambda sections: reports._summary("daily", 0, sections, None)["sentences"][-2]  # noqa: E731
    assert said(sections) == f"疑似谣言传播最多的{dashboard.RUMORS}组，已回应0组。"
    assert said({**sections, "rumors": {"clusters": listed[:3]}}) == "疑似谣言3组，已回应0组。"
    seen = {"pressure": {"rumor_clusters": [20, 3]}}  # a special report counts every cluster first seen
    assert said({**sections, "psr": seen}) == f"疑似谣言共23组，其中传播最多的{dashboard.RUMORS}组已回应0组。"


def test_the_html_page_is_a_printable_briefing_with_post_texts_escaped(tmp_path):
    page = render_html(_report(report_home(tmp_path), "daily", day=DAY.date()))
    assert "<h1>舆情日报</h1>" in page and "size: A4" in page and "SimHei" in page and "FangSong" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "检索式：（全部信息）" in page and "2024-07-24 00:00 至 2024-07-24 23:59（北京时间）" in page
    assert "环比 +50.0%" in page
    assert '<th class="n">近似重复帖文</th>' in page and "<p>1组疑似谣言，各以与首发内容相同或近似的帖文数" in page
    # in print, each table's header row repeats atop the pages it runs on to; narrow columns stay a line wide
    assert page.count("<table><thead><tr>") == page.count("<table>") and "thead { display: table-header-group; }" in page
    assert "thead th { white-space: nowrap; }" in page
    assert "<th>湖北省</th><td class=\"n\">3</td>" in page
    assert "<th>2024-07-24 09时</th>" in page and "<th>2024-07-24T09</th>" not in page  # buckets as written
    assert "<th>anger</th>" not in page  # emotions by their Chinese names too
    assert "发布权威信息：已按时回应" in page and "<td>微博</td><td>关于城东变电站的情况说明</td>" in page and "<td>已关闭</td>" in page  # no codes


def test_the_reports_name_platforms_and_sentiments_as_the_review_ui_does():
    from babel.messages.pofile import read_po

    catalog = REPO / "review_ui/translations/zh_CN/LC_MESSAGES/messages.po"
    with catalog.open("rb") as handle:
        words = {message.id: message.string for message in read_po(handle)}
    for field, names in (("platform", PLATFORM_NAMES), ("sentiment", SENTIMENT_NAMES), ("polarity", POLARITY_NAMES),
                         ("emotion", EMOTION_NAMES)):
        assert names == {value: words[f"label_{field}_{value}"] for value in names}
    for prefix, names in (("channel_", CHANNEL_NAMES), ("alert_state_", ALERT_STATE_NAMES), ("clock_", CLOCK_NAMES),
                          ("deadline_", DEADLINE_NAMES)):
        assert names == {value: words[prefix + value] for value in names}

