"""The special report's spread section: the figures of the page ``/spread/cluster/<cluster>``
for the incident's most copied rumor (real app, real SQLite store and embedded index)."""

from __future__ import annotations

import re
from datetime import timedelta

from core.schema import make_post
from core.store import Store
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report, render_html
from desk.tables import Incident
from indexes.backends import open_index
from review_ui import create_app
from tests.conftest import html, logged_in_client
from tests.desk.report_home import DAY, report_home
from tests.review_ui.test_spread_ui import spread_data

NOW = DAY + timedelta(days=1, hours=8)
# platform id: (parent's platform id, kind, author); p9 and p10 are two of the rumor's copies
REPLIES = {"r1": ("p9", "repost", "甲"), "r2": ("r1", "repost", "乙"), "r3": ("r1", "repost", "丙"),
           "r4": ("p9", "comment", "丁"), "r5": ("p10", "repost", "戊")}


def _special(settings, query: str | None = None):
    store = Store(settings.database_url)
    try:
        with open_sessions(store.engine, settings.home)() as session:
            incident = session.get(Incident, 1)
            if query is not None:
                incident.query = query
            return make_report("special", store, open_index(settings), session, load_clocks(), incident=incident,
                               now=NOW)
    finally:
        store.close()


def test_the_special_report_summarises_the_spread_page_of_its_most_copied_rumor(tmp_path):
    settings = report_home(tmp_path)
    store = Store(settings.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id=pid, parent_id=parent, kind=kind, author_name=author,
                                  text=f"求证{n}号：变电站真的出事了吗", created_at=DAY + timedelta(hours=20, minutes=30 + n))
                        for n, (pid, (parent, kind, author)) in enumerate(REPLIES.items())])
    report = _special(settings)
    spread = report.as_dict()["spread"]
    cluster = report.sections["rumors"]["clusters"][0]["cluster"]
    assert spread["cluster"] == cluster and spread["link"] == f"/spread/cluster/{cluster}"
    assert spread["filters"] == {"rumor": True, "cluster": cluster} and spread["query"] == report.query
    assert (spread["posts"], spread["reposts"], spread["comments"], spread["depth"], spread["breadth"]) == (8, 4, 1, 2, 3)
    assert spread["root"]["text"] == store.get_post(spread["root"]["id"])["text"]

    client = logged_in_client(create_app(settings, store=store))
    page = html(client.get(spread["link"]))
    assert f"共 {spread['posts']} 条帖子，最深 {spread['depth']} 层，3 个源头" in page
    assert f'href="/posts/{spread["root"]["id"]}"' in re.search(r'id="first-source">(.*?)</section>', page, re.S)[1]
    chart = spread_data(page)
    assert [row["posts"] for row in spread["over_time"]] == chart["posts"]
    assert [row["depth"] for row in spread["over_time"]] == chart["depth"]
    shown = re.search(r'id="key-spreaders">(.*?)</section>', page, re.S)[1]
    assert [(s["author"], str(s["downstream"])) for s in spread["spreaders"]] == \
        re.findall(r"<tr><td>(.*?)</td><td>(\d+)</td>", shown)[:5] == [("账号1", "3"), ("甲", "2"), ("账号2", "1")]
    store.close()

    briefing = render_html(report)
    assert "十一、谣言传播路径" in briefing and "传播深度 2 层，最大广度 3 条" in briefing and "<td>甲</td>" in briefing


def test_the_spread_section_is_empty_without_a_rumor_and_only_special_reports_have_one(tmp_path):
    settings = report_home(tmp_path)
    spread = _special(settings, query="地铁").as_dict()["spread"]
    assert spread["cluster"] is None and spread["root"] is None and spread["link"] is None
    assert (spread["posts"], spread["depth"], spread["over_time"], spread["spreaders"]) == (0, 0, [], [])
    assert "未发现疑似谣言的传播。" in render_html(_special(settings, query="地铁"))
    store = Store(settings.database_url)
    with open_sessions(store.engine, settings.home)() as session:
        daily = make_report("daily", store, open_index(settings), session, load_clocks(), day=DAY.date(), now=NOW)
    store.close()
    assert "spread" not in daily.as_dict() and "谣言传播路径" not in render_html(daily)
