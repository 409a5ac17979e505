"""The alert outbox when things go wrong: a notice that cannot be sent, a slow receiver,
a wrong escalation file, an alert closed before its notice went, a notice sent twice.
Real receivers on loopback, a real store and index (``alert_desk.Desk``)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.store import naive_utc
from crisiswatch import publishing
from desk import alert_outbox, alerts, outbox, transmitters
from desk.notices import Notice
from desk.errors import Invalid
from desk.states import DeliveryStatus
from desk.tables import Alert, AlertDelivery, QuietHours, User
from desk.transmitters import ChannelConfigError, RobotChannel
from tests.conftest import cli, free_port
from tests.desk.alert_desk import CITY, COUNTY, NOW, SECRET, Desk, path


def with_channel(desk: Desk, entry: str) -> None:
    """The county's channels file entry ``entry`` (a ``[[organisation.channel]]`` body) added."""
    text = desk.home.channels_file.read_text(encoding="utf-8")
    head = f'[[organisation]]\nname = "{COUNTY}"\n'
    desk.home.channels_file.write_text(text.replace(head, head + "[[organisation.channel]]\n" + entry),
                                       encoding="utf-8")


def test_a_notice_that_cannot_be_sent_is_a_failed_attempt_and_the_next_notices_still_go(desk, receiver):
    desk.scheme.name = "bad\nSubject: x"  # named before names were checked: the subject is made one line, and
    # the mail server is not there
    with_channel(desk, f'name = "mail"\nkind = "email"\nhost = "127.0.0.1"\nport = {free_port()}\n'
                       'security = "none"\nfrom = "a@binhai.gov.cn"\nto = ["b@binhai.gov.cn"]\n')
    desk.to("county", "mail")
    desk.to("county")
    desk.rule()
    desk.add(2)
    desk.check()
    failed, sent = desk.deliver()
    assert failed.channel == "mail" and failed.status == DeliveryStatus.PENDING and failed.attempts == 1
    assert "refused" in failed.error.lower()
    assert sent.status == DeliveryStatus.DELIVERED and len(receiver.got(path(COUNTY))) == 1
    row = desk.session.get(AlertDelivery, failed.delivery_id)
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1) and row.last_error == failed.error


def test_a_schemes_name_is_one_line_and_a_channels_url_is_ascii(desk, tmp_path):
    for name in ("bad\nSubject: x", "tab\there", "line\u2028break"):
        with pytest.raises(Invalid) as refused:
            alerts.add_scheme(desk.session, name, desk.orgs["county"], "停电", actor="test")
        assert refused.value.code == "scheme_name_line"
        with pytest.raises(Invalid):
            alerts.edit_scheme(desk.session, desk.scheme, name, "停电", actor="test")
    alerts.edit_scheme(desk.session, desk.scheme, "龙华　停电", "停电", actor="test")  # ideographic space: fine
    channels = tmp_path / "channels.toml"
    for kind, url in (("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=密钥"),
                      ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T T"),
                      ("webhook", "https://hooks.example.cn/停电")):
        secret = "" if kind == "wecom" else f'secret = "{SECRET}"\n'
        channels.write_text(f'[[organisation]]\nname = "{COUNTY}"\n[[organisation.channel]]\nname = "r"\n'
                            f'kind = "{kind}"\nurl = "{url}"\n{secret}', encoding="utf-8")
        with pytest.raises(ChannelConfigError) as refused:
            outbox.load_channels(channels)
        assert refused.value.code == "url_text" and "channel 1 (r)" in str(refused.value)
        assert "密钥" not in str(refused.value)  # the robot's key is left out


@pytest.mark.parametrize("text, key", [('[hours]\nIV = "x"\n', "IV"), ("[hours]\nIV = -1\n", "IV"),
                                       ("[hours]\nV = 2\n", "V"), ("hours = 3\n", None), ("[hours\n", None)])
def test_a_wrong_escalation_file_is_said_with_its_key_and_the_notices_still_go(desk, receiver, caplog, text, key):
    wrong = desk.home.home / "escalation.toml"
    wrong.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid) as refused:
        alert_outbox.load_escalation(wrong)
    assert str(wrong) in str(refused.value) and (key is None or f"{key} = " in str(refused.value))
    desk.to("county")
    desk.rule()
    desk.add(2)
    desk.check()
    [sent] = desk.deliver(timedelta(hours=5))  # not escalated, and not at every run either
    assert sent.status == DeliveryStatus.DELIVERED and desk.session.scalars(select(Alert)).one().escalated_at is None
    assert f"alerts are not escalated: {refused.value}" in caplog.text


def test_a_notice_held_by_quiet_hours_is_not_sent_once_its_alert_is_closed_and_its_row_says_so(desk, receiver):
    desk.session.add(QuietHours(user_id=desk.zhang.id, starts="22:00", ends="07:00"))
    desk.to("county", "zhang", desk.zhang)
    desk.rule()  # level IV: held until 07:00
    desk.add(2)
    [opened] = desk.check()
    assert desk.deliver() == []
    alerts.acknowledge(desk.session, opened.alert, actor="zhang", now=NOW)
    alerts.close(desk.session, opened.alert, actor="zhang", now=NOW)
    desk.session.commit()
    done = cli("alert", "deliver", "--at", "2024-07-26T07:00", home=desk.home)  # the quiet hours' end
    assert done.stdout == "0 notices attempted, 0 failed\n1 notices cancelled, their alert closed before they went\n"
    assert receiver.got(path(COUNTY, "zhang")) == []
    desk.session.expire_all()
    row = desk.session.scalars(select(AlertDelivery)).one()
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.CANCELLED, 0, alert_outbox.CLOSED_FIRST)
    assert desk.deliver(timedelta(hours=9)) == []


def test_a_notice_of_a_closed_alert_that_another_sender_holds_is_not_said_cancelled(desk):
    desk.to("county")
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    alerts.acknowledge(desk.session, opened.alert, actor="zhang", now=NOW)
    alerts.close(desk.session, opened.alert, actor="zhang", now=NOW)
    row = desk.session.scalars(select(AlertDelivery)).one()
    row.status, row.next_attempt_at = DeliveryStatus.SENDING, naive_utc(NOW) + timedelta(minutes=1)  # claimed
    desk.session.commit()
    factory = publishing.sessions(desk.home.database_url, desk.home.home)
    assert alert_outbox._cancel_closed(factory, [row.id], naive_utc(NOW)) == ([], [])
    desk.session.expire_all()
    assert desk.session.get(AlertDelivery, row.id).status == DeliveryStatus.SENDING


def without_city(desk: Desk, receiver) -> None:
    """The city taken out of the channels file: it has no channel for notices."""
    text = desk.home.channels_file.read_text(encoding="utf-8")
    city = f'[[organisation]]\nname = "{CITY}"\n[[organisation.channel]]\nname = "duty"\nkind = "webhook"\n' \
           f'url = "{receiver.url(path(CITY))}"\nsecret = "{SECRET}"\n'
    desk.home.channels_file.write_text(text.replace(city, ""), encoding="utf-8")


def test_an_escalation_to_an_organisation_without_channels_is_warned_of(desk, receiver, caplog):
    without_city(desk, receiver)
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    desk.deliver(timedelta(hours=4))
    assert desk.session.get(Alert, opened.alert.id).escalated_to_org_id == desk.orgs["city"].id
    assert f"alert {opened.alert.id} was escalated to {CITY}, which has no channel" in caplog.text


def test_an_organisation_reached_without_a_channel_still_sees_the_alert_after_the_next_step(desk, receiver):
    without_city(desk, receiver)
    city = User(username="li", display_name="李值班", password_hash="x", roles=["analyst"],
                org_id=desk.orgs["city"].id)
    desk.session.add(city)
    desk.rule()
    desk.add(2)
    [opened] = desk.check()
    desk.deliver(timedelta(hours=4))
    desk.deliver(timedelta(hours=8))  # on to the province: no notice ever went to the city
    alert = desk.session.get(Alert, opened.alert.id)
    assert alert.escalated_to_org_id == desk.orgs["province"].id
    assert alerts.may_handle(city, desk.scheme, alert)
    assert [found.id for found, _, _ in alerts.alerts_for(desk.session, city)] == [alert.id]
    assert alerts.open_count(desk.session, city) == 1


def test_an_error_masks_the_channels_secret_where_it_is_whole_and_a_secret_not_in_every_word():
    robot = RobotChannel("w", "wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ea", secret="ea")
    assert outbox._short("cannot reach the webhook: [Errno 111] Connection refused", robot) == (
        "cannot reach the webhook: [Errno 111] Connection refused")
    key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    robot = RobotChannel("w", "wecom", url=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}", secret=key)
    assert outbox._short(f"HTTP 404: no robot {key} at send?key={key}&debug=1 (x{key})", robot) == (
        f"HTTP 404: no robot *** at send?key=***&debug=1 (x{key})")


def test_without_the_review_sites_address_the_relative_links_are_said_once(desk, receiver, caplog, monkeypatch):
    monkeypatch.setattr(publishing, "_said", set())
    desk.to("county")
    desk.rule()
    desk.add(2)
    desk.check()
    desk.deliver()
    desk.deliver(timedelta(minutes=1))
    assert caplog.text.count("no CRISISWATCH_SITE_URL: the links in alert notices are relative") == 1
    assert receiver.got(path(COUNTY))[0]["link"].startswith("/alerts/")


def test_a_notice_sent_again_after_a_sender_was_killed_carries_the_same_id_to_a_robot(desk, receiver):
    with_channel(desk, f'name = "robot"\nkind = "wecom"\nurl = "{receiver.url("/robot?key=wecom-key-1")}"\n')
    desk.to("county", "robot")
    desk.rule()
    desk.add(2)
    desk.check()
    [sent] = desk.deliver()
    row = desk.session.get(AlertDelivery, sent.delivery_id)  # as a sender killed after sending, before recording:
    row.status, row.next_attempt_at = DeliveryStatus.SENDING, naive_utc(NOW) + outbox.LEASE
    [again] = desk.deliver(outbox.LEASE)  # its lease has run out
    first, second = [r["body"]["markdown"]["content"] for r in receiver.received if r["path"] == "/robot"]
    assert first == second and first.endswith(f"\n\n通知编号：alert-{again.alert_id}-{again.delivery_id}")


@contextmanager
def dripping(first: bytes):
    """A server on loopback that answers each connection with ``first`` and then one byte
    every 0.2 s (what the receiver of a webhook or a mail server that hangs does)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(first)
                while not stop.wait(0.2):
                    conn.sendall(b"x")
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_deadline_a_failed_attempt(monkeypatch, tmp_path):
    monkeypatch.setattr(transmitters, "DEADLINE", 1.5)
    notice = Notice("alert-1-1", "龙华停电", "数量：2", level="IV")
    webhook = transmitters.Channel("w", "webhook", url="", secret=SECRET)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    with dripping(head) as body_port, dripping(b"HTTP/1.1 200 OK\r\nX-Slow: ") as head_port, \
            dripping(b"220 smtp.binhai.gov.cn ") as smtp_port:
        mail = transmitters.TRANSMITTERS["email"].channel("m", {
            "host": "127.0.0.1", "port": smtp_port, "security": "none", "from": "a@binhai.gov.cn",
            "to": ["b@binhai.gov.cn"]}, None, tmp_path)
        for channel in (replace(webhook, url=f"http://127.0.0.1:{body_port}/hook"),
                        replace(webhook, url=f"http://127.0.0.1:{head_port}/hook"), mail):
            started = time.monotonic()
            error = outbox.attempted(channel, lambda: transmitters.notify(channel, notice))
            assert error == "TimeoutError: no whole exchange within 1.5 s" and time.monotonic() - started < 4


def test_the_rules_job_opens_alerts_without_waiting_for_a_slow_receiver_the_notices_job_is_cut_off(
        desk, monkeypatch):
    monkeypatch.setattr(transmitters, "DEADLINE", 1.5)
    with dripping(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n") as port:
        text = desk.home.channels_file.read_text(encoding="utf-8")
        desk.home.channels_file.write_text(text.replace(desk.receiver.url(path(COUNTY)), f"http://127.0.0.1:{port}/"),
                                           encoding="utf-8")
        desk.to("county")
        desk.rule()
        desk.add(2)
        desk.session.commit()
        started = time.monotonic()
        publishing.watch_alerts(desk.home, NOW)
        assert time.monotonic() - started < 1.5 and desk.session.scalars(select(Alert)).one().level == "IV"
        [slow] = publishing.deliver_alerts(desk.home, NOW)
        assert slow.status == DeliveryStatus.PENDING and slow.error.startswith("TimeoutError")
