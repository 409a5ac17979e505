"""Kept reports (desk.report_archive) on a real home: kept with their figures, seen by
their organisation (one made for none by all), rendered again from the figures, sent to a
webhook on loopback once, and the scheduler's daily report made once a day and sent."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.store import Store
from crisiswatch import publishing
from desk import report_archive
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.errors import Invalid, NotFound
from desk.outbox import daily_report_channels, load_channels
from desk.reports import Report, make_report
from desk.states import DeliveryStatus
from desk.tables import AuditEntry, KeptReport, Organisation, ReportDelivery, User
from desk.transmitters import sign
from indexes.backends import open_index
from tests.desk.report_home import DAY, report_home

SECRET = "report-secret-0123456789abcdef"
ORG = "滨海供电局"  # report_home's organisation


@pytest.fixture
def home(tmp_path):
    settings = report_home(tmp_path / "home")
    store = Store(settings.database_url)
    yield settings, store, open_sessions(store.engine, settings.home)
    store.close()


def daily(settings, store, session) -> Report:
    return make_report("daily", store, open_index(settings), session, load_clocks(settings.home / "clocks.toml"),
                       day=DAY.date(), now=DAY + timedelta(days=2))


def write_channels(settings, receiver, daily_report: str = "") -> None:
    settings.channels_file.write_text(
        f'[[organisation]]\nname = "{ORG}"\n{daily_report}\n'
        f'[[organisation.channel]]\nname = "duty"\nkind = "webhook"\nurl = "{receiver.url("/duty")}"\n'
        f'secret = "{SECRET}"\n\n'
        f'[[organisation.channel]]\nname = "archive"\nkind = "file"\nfolder = "archive"\n', encoding="utf-8")


def test_a_kept_report_is_seen_by_its_organisation_and_rendered_again_from_its_figures(home):
    settings, store, sessions = home
    with sessions() as session, session.begin():
        own = session.scalar(select(Organisation).where(Organisation.name == ORG))
        other = Organisation(name="海口市人民政府", kind="government", level="city")
        session.add(other)
        session.flush()
        duty = session.scalar(select(User).where(User.username == "duty"))
        outsider = User(username="out", display_name="out", password_hash="x", org_id=other.id, roles=["analyst"])
        admin = User(username="root", display_name="root", password_hash="x", org_id=other.id, roles=["admin"])
        session.add_all([outsider, admin])
        made = daily(settings, store, session)
        kept = report_archive.keep(session, made, made_by="duty", org_id=own.id)
        scheduled = report_archive.keep(session, made, made_by=report_archive.SCHEDULER, org_id=own.id,
                                        scheduled_day=DAY.date())
        everyones = report_archive.keep(session, made, made_by="root", org_id=None)
        session.flush()
        assert [r.id for r in report_archive.visible(session, duty)] == [everyones.id, scheduled.id, kept.id]
        assert [r.id for r in report_archive.visible(session, outsider)] == [everyones.id]  # newest first
        assert len(report_archive.visible(session, admin)) == 3
        with pytest.raises(NotFound):
            report_archive.get(session, outsider, kept.id)
        assert report_archive.get(session, duty, kept.id) is kept
        assert kept.total_posts == made.total_posts == 12 and kept.figures == made.as_dict()
        page = report_archive.rendered(kept, "html").decode("utf-8")
        assert "舆情日报" in page and "共监测到信息12条" in page
        assert report_archive.file_name(kept, "html") == "舆情日报-2024-07-24.html"
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target == f"report:{kept.id}")).all()
        assert actions == ["report.make"]
        own_id = own.id
    with sessions() as session, pytest.raises(IntegrityError):  # one scheduled report a day and organisation
        report_archive.keep(session, made, made_by=report_archive.SCHEDULER, org_id=own_id, scheduled_day=DAY.date())


def test_the_options_go_with_their_kinds_as_the_command_line_takes_them():
    check = report_archive.check_options
    check("daily", incident=None, query="停电", day=DAY.date(), since=None, until=None)
    check("special", incident=1, query="", day=None, since=None, until=None)
    for kind, options in (("special", {}), ("daily", {"incident": 1}), ("special", {"incident": 1, "query": "x"}),
                          ("flash", {"day": DAY.date()}), ("daily", {"since": DAY})):
        with pytest.raises(Invalid):
            check(kind, **{"incident": None, "query": "", "day": None, "since": None, "until": None, **options})


def test_a_sent_report_reaches_the_channels_of_the_organisation_once(home, receiver):
    settings, store, sessions = home
    write_channels(settings, receiver)
    channels = load_channels(settings.channels_file)
    with sessions() as session, session.begin():
        own = session.scalar(select(Organisation).where(Organisation.name == ORG))
        kept = report_archive.keep(session, daily(settings, store, session), made_by="duty", org_id=own.id)
        rows = report_archive.send(session, kept, own, channels, actor="duty")
        assert [row.channel for row in rows] == ["duty", "archive"]
        report_id = kept.id
        with pytest.raises(Invalid):
            report_archive.send(session, kept, Organisation(name="无渠道单位"), channels, actor="duty")
    now = DAY + timedelta(days=2)
    sent = report_archive.deliver_due(sessions, channels, now, "https://yq.example.cn/")
    assert [(s.report_id, s.channel, s.status) for s in sent] == [(report_id, "duty", DeliveryStatus.DELIVERED),
                                                                  (report_id, "archive", DeliveryStatus.DELIVERED)]
    assert report_archive.deliver_due(sessions, channels, now + timedelta(minutes=5)) == []
    [got] = receiver.got("/duty")
    assert got["title"] == "舆情日报" and got["link"] == f"https://yq.example.cn/reports/{report_id}"
    assert "本期共监测到信息12条" in got["text"] and got["notice_id"].startswith(f"report-{report_id}-")
    [request] = receiver.received
    assert request["headers"]["X-Crisiswatch-Signature"] == sign(SECRET, request["raw"])
    (written,) = (settings.channels_file.parent / "archive").iterdir()  # the file channel: one file per notice
    assert written.name.startswith(f"notice-report-{report_id}-")
    assert json.loads(written.read_text(encoding="utf-8"))["title"] == "舆情日报"
    with sessions() as session:
        assert session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "report.send")) == {
            "org": ORG, "channels": ["duty", "archive"]}


def test_a_report_to_a_receiver_that_is_down_is_retried(home, receiver):
    settings, store, sessions = home
    write_channels(settings, receiver)
    channels = load_channels(settings.channels_file)
    receiver.status["/duty"] = 503
    with sessions() as session, session.begin():
        own = session.scalar(select(Organisation).where(Organisation.name == ORG))
        report_archive.send(session, report_archive.keep(session, daily(settings, store, session), made_by="duty",
                                                         org_id=own.id), own, channels, actor="duty")
    now = DAY + timedelta(days=2)
    [failed, _] = report_archive.deliver_due(sessions, channels, now)  # the file channel's is written
    assert failed.status == DeliveryStatus.PENDING and "503" in failed.error
    receiver.status.clear()
    assert report_archive.deliver_due(sessions, channels, now + timedelta(seconds=10)) == []  # not due yet
    [sent] = report_archive.deliver_due(sessions, channels, now + timedelta(minutes=1))
    assert sent.status == DeliveryStatus.DELIVERED and sent.attempts == 2 and len(receiver.got("/duty")) == 1


def test_the_daily_report_is_made_once_a_day_even_run_twice_and_sent(home, receiver):
    settings, store, sessions = home
    write_channels(settings, receiver, 'daily_report = ["duty"]')
    morning = DAY + timedelta(days=1, hours=8)
    [made] = publishing.daily_report(settings, morning)
    assert publishing.daily_report(settings, morning + timedelta(hours=3)) == []  # a restart that day
    with sessions() as session:
        [kept] = session.scalars(select(KeptReport)).all()
        own = session.scalar(select(Organisation.id).where(Organisation.name == ORG))
        assert (kept.id, kept.kind, kept.made_by, kept.org_id, kept.scheduled_day) == (
            made, "daily", "scheduler", own, DAY.date())
        assert kept.total_posts == 12
    publishing.deliver_alerts(settings, morning)
    publishing.deliver_alerts(settings, morning + timedelta(minutes=1))
    [got] = receiver.got("/duty")
    assert got["title"] == "舆情日报" and got["link"] == f"/reports/{made}"
    with sessions() as session:
        assert session.scalars(select(ReportDelivery.status)).all() == [DeliveryStatus.DELIVERED]


def test_the_daily_report_names_channels_of_its_organisation_that_take_notices(home, receiver):
    settings, *_ = home
    write_channels(settings, receiver, 'daily_report = ["duty"]')
    assert daily_report_channels(settings.channels_file) == {ORG: ["duty"]}
    write_channels(settings, receiver, 'daily_report = ["archive"]')  # a file channel takes notices too
    assert daily_report_channels(settings.channels_file) == {ORG: ["archive"]}
    for wrong in ('daily_report = ["nowhere"]', 'daily_report = "duty"'):  # made, sent nowhere (logged)
        write_channels(settings, receiver, wrong)
        assert daily_report_channels(settings.channels_file) == {ORG: []}
        assert list(load_channels(settings.channels_file)) == [ORG]


def test_a_channel_named_twice_for_the_daily_report_is_sent_it_once(home, receiver):
    settings, store, sessions = home
    write_channels(settings, receiver, 'daily_report = ["duty", "duty"]')
    assert daily_report_channels(settings.channels_file) == {ORG: ["duty"]}
    [made] = publishing.daily_report(settings, DAY + timedelta(days=1, hours=8))
    with sessions() as session:
        assert session.scalars(select(ReportDelivery.channel).where(ReportDelivery.report_id == made)).all() == ["duty"]


def test_a_report_sent_again_while_its_notice_waits_is_queued_once(home, receiver):
    settings, store, sessions = home
    write_channels(settings, receiver)
    channels = load_channels(settings.channels_file)
    with sessions() as session, session.begin():
        own = session.scalar(select(Organisation).where(Organisation.name == ORG))
        kept = report_archive.keep(session, daily(settings, store, session), made_by="duty", org_id=own.id)
        report_id = kept.id
    for _ in range(2):  # a send button pressed twice
        with sessions() as session, session.begin():
            rows = report_archive.send(session, session.get(KeptReport, report_id),
                                       session.scalar(select(Organisation).where(Organisation.name == ORG)),
                                       channels, actor="duty")
            assert [row.channel for row in rows] == ["duty", "archive"]
    assert len(report_archive.deliver_due(sessions, channels, DAY + timedelta(days=2))) == 2
    assert len(receiver.got("/duty")) == 1
    with sessions() as session, session.begin():  # once it went out, sending it again sends it again
        report_archive.send(session, session.get(KeptReport, report_id),
                            session.scalar(select(Organisation).where(Organisation.name == ORG)), channels, actor="duty")
    report_archive.deliver_due(sessions, channels, DAY + timedelta(days=2, minutes=1))
    assert len(receiver.got("/duty")) == 2
