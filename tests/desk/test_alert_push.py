"""The alert outbox: alerts evaluated from posts stored, tagged and indexed in a real
embedded index, their notices sent to real webhook receivers on loopback through the
home's channels file, retried, held by quiet hours and escalated up the organisations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core.schema import CHINA_TZ
from core.settings import Settings
from core.store import Store
from crisiswatch import publishing
from crawlers.jobs import load_jobs
from crisiswatch.schedule import start_scheduler
from crisiswatch.stages import check_alerts, run_job_cycle
from desk import alert_outbox, alerts
from desk.errors import Invalid
from desk.outbox import load_channels
from desk.states import DeliveryStatus
from desk.tables import Alert, AlertDelivery, AuditEntry, Organisation, QuietHours
from tests.conftest import cli, free_port
from tests.desk.alert_desk import CITY, COUNTY, DEPARTMENT, NOW, PROVINCE, SECRET, path
from tests.desk.receivers import SMTP_LOGIN, serving

CYCLE = datetime(2024, 7, 26, 12, 0, tzinfo=CHINA_TZ)  # the crawl cycle's time: the demo site's posts are before it
SIGNING = "SEC0123456789abcdef"  # a DingTalk robot's signing secret


def test_an_opened_alert_is_sent_once_and_again_when_its_level_rises_not_on_an_update(desk, receiver):
    desk.to("county")
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    assert opened.opened and opened.alert.level == "IV"
    [sent] = desk.deliver()
    assert sent.status == DeliveryStatus.DELIVERED
    [notice] = receiver.got(path(COUNTY))
    assert notice["level"] == "IV" and notice["title"] == "龙华停电：停电"
    assert notice["link"] == f"/alerts/{opened.alert.id}" and "数量：2" in notice["text"]
    assert notice["text"].startswith("新预警：龙华停电")
    assert desk.deliver(timedelta(minutes=1)) == []  # sent once

    desk.add(1)
    [updated] = desk.check(minutes_after=1)
    assert not updated.opened and updated.alert.count == 3 and updated.alert.level == "IV"
    assert desk.deliver(timedelta(minutes=1)) == [] and len(receiver.got(path(COUNTY))) == 1

    desk.add(3)
    [raised] = desk.check(minutes_after=2)
    assert raised.alert.level == "III"
    desk.deliver(timedelta(minutes=2))
    first, again = receiver.got(path(COUNTY))
    assert again["level"] == "III" and again["text"].startswith("预警升级") and "数量：6" in again["text"]
    assert again["notice_id"] != first["notice_id"]


def test_a_spikes_notice_says_its_window_in_words(desk, receiver):
    desk.to("county")
    alerts.add_rule(desk.session, desk.scheme, "spike", {"window": 75, "min_count": 2}, actor="test")
    desk.add(2, minutes_before=0.5)
    [opened] = desk.check()
    assert opened.alert.key == "75s"
    desk.deliver()
    [notice] = receiver.got(path(COUNTY))
    assert notice["title"] == "龙华停电：1分15秒" and notice["text"].startswith("新预警：龙华停电（spike 1分15秒）")


def test_a_receiver_down_gets_the_notice_once_it_is_up_again(desk, receiver):
    desk.to("county")
    desk.rule()
    desk.add(2)
    desk.check()
    receiver.status[path(COUNTY)] = 503
    [failed] = desk.deliver()
    assert failed.status == DeliveryStatus.PENDING and failed.attempts == 1 and "HTTP 503" in failed.error
    assert desk.deliver(timedelta(seconds=20)) == []  # its next attempt is 30 s after the first
    del receiver.status[path(COUNTY)]
    [sent] = desk.deliver(timedelta(seconds=30))
    assert sent.status == DeliveryStatus.DELIVERED and sent.attempts == 2
    tried = [r["body"] for r in receiver.received if r["path"] == path(COUNTY)]
    assert len(tried) == 2 and tried[0]["notice_id"] == tried[1]["notice_id"]  # the receiver may drop a copy
    row = desk.session.scalars(select(AlertDelivery)).one()
    assert row.status == DeliveryStatus.DELIVERED and row.attempts == 2 and "HTTP 503" in row.last_error
    assert row.delivered_at == datetime(2024, 7, 25, 15, 0, 30)


def test_quiet_hours_hold_a_level_iv_until_morning_and_let_a_level_i_through(desk, receiver):
    desk.session.add(QuietHours(user_id=desk.zhang.id, starts="22:00", ends="07:00"))
    desk.to("county", "zhang", desk.zhang)
    desk.rule()  # 3 posts: level IV
    desk.rule(levels=(1.5, 2, 2.5))  # 3 posts: level I
    desk.add(3)
    assert sorted(change.alert.level for change in desk.check()) == ["I", "IV"]
    desk.deliver()
    [loud] = receiver.got(path(COUNTY, "zhang"))
    assert loud["level"] == "I"
    desk.deliver(timedelta(hours=7, minutes=59))  # 06:59 (both alerts are escalated to the city meanwhile)
    assert len(receiver.got(path(COUNTY, "zhang"))) == 1
    [quiet] = [result for result in desk.deliver(timedelta(hours=8)) if result.channel == "zhang"]  # 07:00
    assert quiet.status == DeliveryStatus.DELIVERED
    assert [notice["level"] for notice in receiver.got(path(COUNTY, "zhang"))] == ["I", "IV"]


def test_an_alert_not_acknowledged_in_time_is_escalated_step_by_step_and_copied(desk, receiver):
    desk.to("county")
    alert_outbox.add_recipient(desk.session, desk.scheme, desk.orgs["department"], on_escalation=True)
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    alert_id = opened.alert.id
    desk.deliver()
    desk.deliver(timedelta(hours=3, minutes=59))
    assert receiver.got(path(CITY)) == [] and desk.session.get(Alert, alert_id).escalated_to_org_id is None

    desk.deliver(timedelta(hours=4))  # level IV: 4 hours
    alert = desk.session.get(Alert, alert_id)
    assert alert.escalated_to_org_id == desk.orgs["city"].id
    [up] = receiver.got(path(CITY))
    assert up["text"].startswith("预警未研判，已上报") and "发出单位：龙华区人民政府" in up["text"]
    assert len(receiver.got(path(DEPARTMENT))) == 1
    desk.deliver(timedelta(hours=8))
    assert desk.session.get(Alert, alert_id).escalated_to_org_id == desk.orgs["province"].id
    assert len(receiver.got(path(PROVINCE))) == 1 and len(receiver.got(path(DEPARTMENT))) == 1  # copied once
    desk.deliver(timedelta(hours=12))  # the province has no parent
    assert len(receiver.got(path(PROVINCE))) == 1
    entries = desk.session.scalars(select(AuditEntry).where(AuditEntry.target == f"alert:{alert_id}",
                                                            AuditEntry.action.in_(("alert.escalate", "alert.copy")))
                                   .order_by(AuditEntry.id)).all()
    assert [(e.action, e.detail.get("from"), e.detail["to"]) for e in entries] == [
        ("alert.escalate", COUNTY, CITY), ("alert.copy", None, DEPARTMENT), ("alert.escalate", CITY, PROVINCE)]


def test_an_acknowledged_alert_is_not_escalated(desk, receiver):
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    alerts.acknowledge(desk.session, opened.alert, actor="zhang", now=NOW)
    desk.deliver(timedelta(hours=5))
    assert desk.session.get(Alert, opened.alert.id).escalated_to_org_id is None and receiver.got(path(CITY)) == []


def test_the_scheduler_evaluates_the_rules_every_minute_and_sends_what_they_open(desk, receiver):
    desk.session.commit()
    scheduler = start_scheduler(desk.home, {}, run_now=False)
    try:
        job = scheduler.get_job(publishing.ALERTS_JOB_ID)
        assert job.func is publishing.watch_alerts and job.trigger.interval == timedelta(minutes=1)
        assert scheduler.get_job(publishing.NOTICES_JOB_ID).func is publishing.deliver_alerts  # a job of its own
    finally:
        scheduler.shutdown()
    desk.to("county")
    desk.rule()
    desk.add(2)  # an index batch
    desk.session.commit()
    publishing.watch_alerts(desk.home, NOW)
    assert receiver.got(path(COUNTY)) == []
    publishing.deliver_alerts(desk.home, NOW)
    [notice] = receiver.got(path(COUNTY))
    assert notice["level"] == "IV"
    desk.session.expire_all()
    assert desk.session.scalars(select(Alert)).one().opened_at == datetime(2024, 7, 25, 15, 0)


def test_the_command_line_names_recipients_and_quiet_hours_and_delivers(desk, receiver):
    desk.session.commit()
    add = ("alert", "recipient", "add", "龙华停电", "--org", COUNTY)
    assert cli(*add, "--channel", "zhang", "--user", "zhang", home=desk.home).stdout == (
        f"龙华停电: alerts go to {COUNTY} / zhang for zhang\n")
    assert "copied on escalation to" in cli(*add[:4], "--org", DEPARTMENT, "--copy", home=desk.home).stdout
    neither = cli(*add, home=desk.home, check=False)  # neither a channel nor --copy: the desk refuses it
    assert neither.exit_code == 1 and "a recipient names one of its organisation's channels" in neither.stderr
    assert cli("alert", "recipient", "list", "龙华停电", home=desk.home).stdout == (
        f"{COUNTY}\tzhang\tzhang\talerts\n{DEPARTMENT}\t*\t-\tcopy\n")
    assert cli("alert", "quiet", "zhang", "22:00-7:00", home=desk.home).stdout == "zhang: quiet hours 22:00-07:00\n"
    assert cli("alert", "quiet", "zhang", "late", home=desk.home, check=False).exit_code == 2

    desk.rule()
    desk.add(2)
    desk.check()
    at = ("alert", "deliver", "--at", "2024-07-25T23:00")
    assert cli(*at, home=desk.home).stdout == "0 notices attempted, 0 failed\n"  # level IV, in the quiet hours
    cli("alert", "quiet", "zhang", home=desk.home)
    receiver.status[path(COUNTY, "zhang")] = 500
    failed = cli(*at, home=desk.home, check=False)
    assert failed.exit_code == 1 and f"pending   alert 1 -> {COUNTY} / zhang: HTTP 500" in failed.stdout


def test_a_recipient_is_removed_by_the_options_it_was_added_with(desk, receiver):
    desk.session.commit()
    add = ("alert", "recipient", "add", "龙华停电", "--org", COUNTY)
    remove = ("alert", "recipient", "remove", "龙华停电", "--org", COUNTY)
    for options in (("--channel", "duty"), ("--channel", "zhang", "--user", "zhang")):
        cli(*add, *options, home=desk.home)
    cli(*add[:4], "--org", DEPARTMENT, "--copy", home=desk.home)
    wrong = cli(*remove, "--channel", "zhang", home=desk.home, check=False)  # it was added for zhang
    assert wrong.exit_code == 1 and f"龙华停电 sends no alerts to {COUNTY} / zhang with these options" in wrong.stderr
    neither = cli(*remove, home=desk.home, check=False)  # neither a channel nor --copy: the desk refuses it
    assert neither.exit_code == 1 and "a recipient names one of its organisation's channels" in neither.stderr
    assert cli(*remove, "--channel", "zhang", "--user", "zhang", home=desk.home).stdout == (
        f"龙华停电: alerts no longer go to {COUNTY} / zhang for zhang\n")
    assert "no longer copied on escalation to" in cli(*remove[:4], "--org", DEPARTMENT, "--copy", home=desk.home).stdout
    assert cli("alert", "recipient", "list", "龙华停电", home=desk.home).stdout == f"{COUNTY}\tduty\t-\talerts\n"
    desk.session.expire_all()
    entries = desk.session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.recipient_remove")
                                   .order_by(AuditEntry.id)).all()
    assert [(e.actor, e.detail["org"], e.detail["channel"]) for e in entries] == [
        ("cli", COUNTY, "zhang"), ("cli", DEPARTMENT, None)]

    desk.rule()
    desk.add(2)
    desk.check()
    desk.deliver()
    assert len(receiver.got(path(COUNTY))) == 1 and receiver.got(path(COUNTY, "zhang")) == []


@pytest.mark.slow  # a real crawl of the demo site in a child process
def test_end_to_end_a_crawl_cycle_sends_its_alert_to_a_webhook_robots_and_email_once_and_one_down_gets_it_next(
        desk, receiver, smtp_server, certificate):
    """Posts crawled from the demo site by the scheduler's cycle fire a rule; the cycle sends
    the notices at its end (not at the alert job's next minute) to a webhook, a WeCom robot
    and an SMTP server on loopback; the DingTalk robot, down then, gets its notice, at a
    signed URL, on the next delivery run; nobody gets one twice."""
    controller, mailbox = smtp_server
    (desk.home.home / "ca.pem").write_bytes(certificate[0].read_bytes())
    down = free_port()  # the DingTalk robot's, which nothing answers during the cycle
    with serving() as wecom:
        wecom_url, dingtalk_url = wecom.url("/cgi-bin/webhook/send?key=county"), f"http://127.0.0.1:{down}/robot/send"
        channels = {  # the county's, each name: its kind and keys
            "duty": ("webhook", f'url = "{receiver.url(path(COUNTY))}"\nsecret = "{SECRET}"'),
            "wecom": ("wecom", f'url = "{wecom_url}"'),
            "dingtalk": ("dingtalk", f'url = "{dingtalk_url}?access_token=county"\nsecret = "{SIGNING}"'),
            "mail": ("email", f'host = "127.0.0.1"\nport = {controller.port}\nfrom = "alerts@longhua.gov.cn"\n'
                              f'to = ["duty@longhua.gov.cn"]\nuser = "{SMTP_LOGIN[0]}"\npassword = "{SMTP_LOGIN[1]}"\n'
                              'cafile = "ca.pem"'),
        }
        desk.home.channels_file.write_text(f'[[organisation]]\nname = "{COUNTY}"\n' + "".join(
            f'[[organisation.channel]]\nname = "{name}"\nkind = "{kind}"\n{keys}\n'
            for name, (kind, keys) in channels.items()), encoding="utf-8")
        for name in channels:
            desk.to("county", name)
        alerts.add_rule(desk.session, desk.scheme, "keyword", {"words": ["停电"], "window": 86400}, [5, 20, 50],
                        actor="test")
        desk.session.commit()
        run_job_cycle(desk.home, load_jobs()["demo-releases"], now=CYCLE)
        [alert] = desk.session.scalars(select(Alert)).all()
        assert alert.key == "停电" and alert.count >= 1 and alert.opened_at == datetime(2024, 7, 26, 4, 0)
        [sent] = receiver.got(path(COUNTY))
        assert sent["title"] == "龙华停电：停电" and sent["link"] == f"/alerts/{alert.id}"
        [wecom_sent] = wecom.received
        assert wecom_sent["body"]["markdown"]["content"].startswith("### 【Ⅳ级 蓝色预警（一般）】龙华停电：停电")
        [(to, mail)] = mailbox.messages
        assert to == ["duty@longhua.gov.cn"] and mail["Subject"] == "【Ⅳ级 蓝色预警（一般）】龙华停电：停电"
        dingtalk = desk.session.scalars(select(AlertDelivery).where(AlertDelivery.channel == "dingtalk")).one()
        assert dingtalk.attempts == 1 and "cannot reach" in dingtalk.last_error

        with serving(down) as later:  # up again, at its address
            next_run = CYCLE + timedelta(minutes=1)  # the alert job's next minute
            assert [r.channel for r in publishing.deliver_alerts(desk.home, next_run)] == ["dingtalk"]
            assert publishing.deliver_alerts(desk.home, next_run + timedelta(minutes=1)) == []
        [ding] = later.received
        timestamp = ding["query"]["timestamp"][0]
        assert int(timestamp) == next_run.timestamp() * 1000
        signature = hmac.new(SIGNING.encode(), f"{timestamp}\n{SIGNING}".encode(), hashlib.sha256).digest()
        assert ding["query"]["sign"] == [base64.b64encode(signature).decode()]
        assert ding["body"]["markdown"]["title"] == "【Ⅳ级 蓝色预警（一般）】龙华停电：停电"
        assert (len(receiver.received), len(wecom.received), len(mailbox.messages)) == (1, 1, 1)


def test_a_failed_evaluation_is_logged_not_raised_so_the_crawls_and_the_scheduler_go_on(home, caplog):
    shutil.rmtree(home.index_dir)
    home.index_dir.write_text("not an index")  # the index cannot be opened
    with publishing.sessions(home.database_url, home.home)() as session, session.begin():
        owner = Organisation(name=COUNTY, kind="government", level="county")
        session.add(owner)
        session.flush()
        scheme = alerts.add_scheme(session, "台风停电", owner, "停电", actor="test")
        alerts.add_rule(session, scheme, "keyword", {"words": ["停电"]}, [5, 20, 50], actor="test")
    store = Store(home.database_url)
    try:
        assert check_alerts(home, store, NOW) == []
    finally:
        store.close()
    assert "the alert rules were not evaluated" in caplog.text


def test_a_homes_escalation_file_changes_the_levels_it_names(tmp_path):
    (tmp_path / "escalation.toml").write_text("[hours]\nIV = 8\n", encoding="utf-8")
    assert alert_outbox.load_escalation(tmp_path / "escalation.toml") == {
        "IV": timedelta(hours=8), "III": timedelta(hours=2), "II": timedelta(hours=1), "I": timedelta(minutes=30)}
    assert alert_outbox.load_escalation(tmp_path / "none.toml")["IV"] == timedelta(hours=4)


def test_the_links_in_notices_start_with_the_review_sites_address_a_setting(desk, receiver, monkeypatch):
    monkeypatch.setenv("CRISISWATCH_SITE_URL", "https://yq.example.cn/")
    desk.home = Settings.load(desk.home.home)
    assert desk.home.site_url == "https://yq.example.cn/"
    desk.to("county")
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    desk.deliver()
    assert receiver.got(path(COUNTY))[0]["link"] == f"https://yq.example.cn/alerts/{opened.alert.id}"

    for wrong in ("yq.example.cn", "ftp://yq.example.cn", "https://"):
        monkeypatch.setenv("CRISISWATCH_SITE_URL", wrong)
        with pytest.raises(ValueError, match="is not the review site's address"):
            Settings.load(desk.home.home)
        refused = cli("alert", "list", home=desk.home, check=False)
        assert refused.exit_code == 1 and f"CRISISWATCH_SITE_URL '{wrong}' is not" in refused.stderr


def test_quiet_hours_that_end_as_they_start_and_a_recipient_not_of_the_channels_file_are_refused(desk):
    with pytest.raises(Invalid, match="quiet hours end at another time than they start, not 00:00-00:00"):
        alert_outbox.set_quiet_hours(desk.session, desk.zhang.id, ("00:00", "00:00"), actor="test")
    channels = load_channels(desk.home.channels_file)
    with pytest.raises(Invalid, match=f"{CITY} has no channel zhang that takes alert notices"):
        alert_outbox.add_recipient(desk.session, desk.scheme, desk.orgs["city"], "zhang", channels=channels)
    with pytest.raises(Invalid, match=f"zhang is not a person of {CITY}"):
        alert_outbox.add_recipient(desk.session, desk.scheme, desk.orgs["city"], "duty", desk.zhang.id,
                                   channels=channels)
    assert desk.session.get(QuietHours, desk.zhang.id) is None
    alert_outbox.set_quiet_hours(desk.session, desk.zhang.id, ("22:00", "07:00"), actor="test")
    quiet = desk.session.scalars(select(AuditEntry).where(AuditEntry.action == "quiet_hours")).one()
    assert quiet.org_id == desk.zhang.org_id  # the person's organisation, as the other alert entries have theirs
    assert alert_outbox.recipients(desk.session, desk.scheme) == []
    alert_outbox.add_recipient(desk.session, desk.scheme, desk.orgs["county"], "zhang", desk.zhang.id,
                               channels=channels)
    alert_outbox.add_recipient(desk.session, desk.scheme, desk.orgs["department"], on_escalation=True,
                               channels=channels)  # every channel of the department
    assert len(alert_outbox.recipients(desk.session, desk.scheme)) == 2
