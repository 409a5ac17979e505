"""The drill report (desk.drill_report) on a drill home played by hand at known times: the
rumor of the shipped scenario stored when it appeared, tagged and indexed, a rumor rule's
alert opened, acknowledged and answered by a release approved and published; the scores
equal the durations from the rumor's first post, against the clocks scaled by the speed,
and the report is kept and rendered in every briefing format."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from docx import Document

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from desk import alerts, audit, drill_report, releases, replay as replays
from desk.clocks import load_clocks, scaled_clocks
from desk.database import open_sessions
from desk.reports import FORMATS, Report, render
from desk.scenario import load
from desk.states import AlertState
from desk.tables import Incident, KeptReport
from indexes.backends import open_index
from indexes.indexer import index_pending

TYPHOON = load("binhai_typhoon")
SPEED = 60  # a scenario hour in a wall minute
T0 = datetime(2026, 7, 25, 22, 0, tzinfo=timezone.utc)  # the drill's start
RUMOR, COPY = (next(post for post in TYPHOON.posts if post.id == id) for id in ("w398", "w467"))  # g02 answers w398
MINUTE = timedelta(minutes=1)


class Clock:
    """The desk's clock for the test: the audit log's and the releases' ``utcnow``."""

    def __init__(self, monkeypatch):
        self.now = T0
        for module in (audit, releases):
            monkeypatch.setattr(module, "utcnow", lambda: self.now.replace(tzinfo=None))


@pytest.fixture
def drill(tmp_path, monkeypatch):
    """A drill home of the shipped scenario at ``SPEED``, run from T0: its store, index, a
    session, the replay, and the clock."""
    settings = Settings.load(tmp_path / "drill", database_url=f"sqlite:///{tmp_path / 'drill' / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    (settings.home / "clocks.toml").write_text(scaled_clocks(load_clocks(), SPEED), encoding="utf-8")
    store = Store(settings.database_url)
    clock = Clock(monkeypatch)
    with open_sessions(store.engine, settings.home)() as session:
        replays.seed_organisations(session, TYPHOON)
        played = replays.start(session, TYPHOON, "drill", SPEED, actor="director")
        replays.run(session, played, now=T0, actor="director")
        session.commit()
        yield settings, store, session, played, clock
    store.close()


def test_the_scores_are_the_durations_from_the_rumors_first_post(drill):
    settings, store, session, played, clock = drill
    first = played.appeared_at(RUMOR.at)
    assert first == T0 + RUMOR.at / SPEED  # 4h15m of the scenario: 4 min 15 s of the drill

    # the rumor, its first copy and a plain post as a crawl stores them, dated when they appeared;
    # tagged and indexed
    store.upsert_posts([make_post(platform="weibo", platform_id=TYPHOON.stored_id(post.id), text=post.text,
                                  author_name=post.author, created_at=played.appeared_at(post.at).isoformat())
                        for post in (RUMOR, COPY)]
                       + [make_post(platform="weibo", platform_id="other", text="龙华区停电了，什么时候来电",
                                    created_at=first.isoformat())])
    stored = list(store.get_posts(range(1, 4)).values())
    store.save_tags([Tags(post["id"], 0.1 if post["platform_id"] == "other" else 0.9, "anxiety", 0.9, [], "test")
                     for post in stored])
    index_pending(store, open_index(settings))
    cluster = next(post["cluster"] for post in stored if post["text"] == RUMOR.text)
    assert [post["cluster"] for post in stored].count(cluster) == 2

    grid = replays.side_organisations(session, TYPHOON)["grid"]
    scheme = alerts.add_scheme(session, "滨海谣言", grid, "停电", actor="director")
    alerts.add_rule(session, scheme, "rumor", {"min_count": 1}, actor="director")
    alerts.add_rule(session, scheme, "keyword", {"words": ["什么时候来电"]}, actor="director")
    opened = {change.rule.kind: change.alert for change in
              alerts.check(session, store, open_index(settings), first + MINUTE)}
    assert opened["rumor"].evidence["cluster"] == cluster
    alerts.acknowledge(session, opened["rumor"], actor="grid_analyst", now=first + 90 * MINUTE / 60)

    drafter, approver, publisher = (replays.side_user(session, grid, role) for role in
                                    ("drafter", "approver", "publisher"))
    incident = session.get(Incident, played.incident_id)
    clock.now = first + 100 * MINUTE / 60
    answer = releases.create_release(session, drafter, incident, "关于网传全城停电三天的说明",
                                     "主变电站运行正常，全城停电三天系谣言。", "weibo", [], rumor_clusters=[cluster])
    clock.now = first + 2 * MINUTE
    releases.submit(session, drafter, answer)
    clock.now = first + 3 * MINUTE
    releases.approve(session, approver, answer)
    releases.schedule(session, publisher, answer, now=clock.now.replace(tzinfo=None))
    releases.mark_published(session, answer, when=first + 4 * MINUTE)
    alerts.answer(session, opened["rumor"], answer, actor="grid_analyst")
    replays.end(session, played, now=first + 5 * MINUTE, actor="director")
    session.commit()

    made = drill_report.make_report(session, store, played, TYPHOON, load_clocks(settings.home / "clocks.toml"),
                                    now=first + 6 * MINUTE)
    (rumor,) = made.sections["rumors"]["rumors"]
    assert rumor["post"] == "w398" and rumor["cluster"] == cluster
    assert datetime.fromisoformat(rumor["first_post_at"]) == first
    steps = {step["step"]: (step["after_s"], step["scenario_after_s"]) for step in rumor["steps"]}
    assert steps == {"alert": (60, 3600), "acknowledgement": (90, 5400), "approval": (180, 10800),
                     "publication": (240, 14400)}
    deadlines = {d["clock"]: (d["scenario_hours"], d["state"], datetime.fromisoformat(d["due"]))
                 for d in rumor["deadlines"]}
    assert deadlines == {"authoritative_information": (pytest.approx(5), "met", first + 5 * MINUTE),
                         "press_conference": (pytest.approx(24), "running", first + 24 * MINUTE)}
    (wait,) = made.sections["approvals"]["longest"]
    assert wait["waited_s"] == 60 and wait["org"] == grid.name and wait["title"] == "关于网传全城停电三天的说明"
    (left,) = made.sections["unhandled"]["alerts"]  # the keyword alert nobody assessed
    assert left["id"] == opened["keyword"].id and left["state"] == AlertState.NEW
    assert made.sections["contradictions"]["caught"] == []  # the review UI's test catches one
    assert made.sections["drill"]["offset_s"] == 9 * 3600 + 15 * 60  # ended 5 wall minutes after 4h15m
    summary = made.sections["summary"]["text"]
    assert "以60倍速进行" in summary and "发出预警用时1分0秒" in summary and "回应发布用时4分0秒" in summary
    assert "5小时时限内已回应" in summary and "24小时时限尚未到期" in summary

    kept = drill_report.keep(session, played, made, made_by="director")
    session.commit()
    assert played.report_id == kept.id and session.get(KeptReport, kept.id).kind == "drill"
    again = Report.from_dict(session.get(KeptReport, kept.id).figures)
    page = render(again, "html").decode("utf-8")
    assert "演练报告：台风“海鸥”致滨海市多区停电" in page and "回应获批" in page and "3小时0分" in page
    assert "信息量走势" not in page  # a drill report's own sections, not a briefing's
    words = "\n".join(p.text for p in Document(io.BytesIO(render(again, "docx"))).paragraphs)
    assert "谣言应对用时" in words and "审批等待最久的环节" in words
    for text in (page, words):  # the sections' filters in words, not as Python writes them
        assert "；演练：binhai_typhoon" in text and "；谣言" in text and "；状态：待研判、处置中" in text
        assert "；审计记录：发布前检查拦截" in text and "rumor=" not in text and "state=" not in text
    assert render(again, "pdf").startswith(b"%PDF") and set(FORMATS) == {"html", "pdf", "docx"}
