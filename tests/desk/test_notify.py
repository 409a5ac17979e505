"""Notices and releases pushed to people: email to a real SMTP server on loopback
(aiosmtpd, with STARTTLS, TLS and a login), and WeCom and DingTalk group robots on a
loopback HTTP receiver that checks each message's shape and DingTalk's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
from datetime import timedelta, timezone

import pytest
from aiosmtpd.controller import Controller

from desk import outbox, transmitters
from desk.notices import Notice
from desk.transmitters import ChannelConfigError, Refused
from tests.conftest import free_port
from tests.desk.receivers import Mailbox, serving
from tests.desk.samples import DUE, GOV, GRID, enqueue, make_release

NOTICE = Notice("alert-7-2", "东湖区停电话题激增", "近15分钟相关帖文 240 条，为基线的 6 倍。\n- 首帖：微博 @东湖生活",
                level="II", link="https://desk.example.cn/alerts/7")
SIGNING = "SEC0123456789abcdef"  # a DingTalk robot's signing secret


# -- email to an SMTP server on loopback ---------------------------------------------------------


def email_channel(tmp_path, port, **entry):
    return transmitters.TRANSMITTERS["email"].channel("duty", {
        "host": "127.0.0.1", "port": port, "from": "舆情值班 <alerts@binhai.gov.cn>",
        "to": ["press@binhai.gov.cn", "duty@binhai.gov.cn"], **entry}, None, tmp_path)


def test_an_email_notice_is_a_utf8_mime_message_sent_over_starttls_with_a_login(smtp_server, certificate, tmp_path):
    controller, mailbox = smtp_server
    (tmp_path / "ca.pem").write_bytes(certificate[0].read_bytes())
    channel = email_channel(tmp_path, controller.port, user="duty", password="mail-password", cafile="ca.pem")
    transmitters.notify(channel, NOTICE, DUE)
    transmitters.notify(channel, NOTICE, DUE + timedelta(minutes=5))  # sent again: the same Message-ID

    (recipients, first), (_, again) = mailbox.messages
    assert recipients == ["press@binhai.gov.cn", "duty@binhai.gov.cn"]
    assert first["Subject"] == "【Ⅱ级 橙色预警（严重）】东湖区停电话题激增"
    assert first["From"] == "舆情值班 <alerts@binhai.gov.cn>" and first["To"] == "press@binhai.gov.cn, duty@binhai.gov.cn"
    assert first.get_content_type() == "text/plain" and first.get_content_charset() == "utf-8"
    assert first["Content-Transfer-Encoding"] == "base64"
    assert first.get_content() == NOTICE.text + "\n\n" + NOTICE.link + "\n"
    assert first["Message-ID"] == again["Message-ID"] and first["Message-ID"].endswith("@binhai.gov.cn>")
    assert first["X-Crisiswatch-Notice"] == again["X-Crisiswatch-Notice"] == "alert-7-2"  # receivers dedupe by it
    assert first["Date"].datetime.replace(tzinfo=None) == DUE
    raw = first.as_bytes()  # as it travelled: every header ASCII, the subject RFC 2047-encoded
    assert raw.isascii() and b"Subject: =?utf-8?" in raw

    wrong = email_channel(tmp_path, controller.port, user="duty", password="not-it", cafile="ca.pem")
    with pytest.raises(OSError, match="535"):  # smtplib.SMTPAuthenticationError
        transmitters.notify(wrong, NOTICE, DUE)
    untrusted = email_channel(tmp_path, controller.port, user="duty", password="mail-password")
    with pytest.raises(ssl.SSLCertVerificationError):  # the certificate is checked
        transmitters.notify(untrusted, NOTICE, DUE)
    assert len(mailbox.messages) == 2


def test_an_email_goes_over_implicit_tls_or_to_a_relay_on_this_machine(certificate, tmp_path):
    (tmp_path / "ca.pem").write_bytes(certificate[0].read_bytes())
    tls, plain = Mailbox(), Mailbox()
    servers = [Controller(tls, hostname="127.0.0.1", port=free_port(), ssl_context=certificate[1],
                          server_hostname="127.0.0.1"),
               Controller(plain, hostname="127.0.0.1", port=free_port())]
    for server in servers:
        server.start()
    try:
        transmitters.notify(email_channel(tmp_path, servers[0].port, security="ssl", cafile="ca.pem"), NOTICE, DUE)
        transmitters.notify(email_channel(tmp_path, servers[1].port, security="none"), NOTICE, DUE)
    finally:
        for server in servers:
            server.stop()
    assert [m["Subject"] for _, m in tls.messages + plain.messages] == [NOTICE.heading] * 2



def test_a_title_with_a_line_break_is_mailed_under_a_subject_of_one_line(tmp_path):
    # a special report's notice is titled by its incident, whose title may hold one
    mailbox = Mailbox()
    relay = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    relay.start()
    try:
        notice = Notice("report-3-1", "舆情专报：台风\r\n抢修进展", "本期共监测到信息12条")
        transmitters.notify(email_channel(tmp_path, relay.port, security="none"), notice, DUE)
    finally:
        relay.stop()
    [(_, sent)] = mailbox.messages
    assert sent["Subject"] == "舆情专报：台风 抢修进展"

# -- group robots on loopback ---------------------------------------------------------------------


def robot(kind: str, url: str, **entry):
    return transmitters.TRANSMITTERS[kind].channel("group", {"url": url, **entry}, None, None)


def test_a_wecom_robot_gets_markdown_and_an_errcode_is_a_failure(receiver):
    channel = robot("wecom", receiver.url("/cgi-bin/webhook/send?key=wecom-key-1"))
    transmitters.notify(channel, NOTICE, DUE)
    (sent,) = receiver.received
    assert sent["query"] == {"key": ["wecom-key-1"]} and sent["headers"]["Content-Type"].startswith("application/json")
    assert sent["body"] == {"msgtype": "markdown", "markdown": {"content": (
        "### 【Ⅱ级 橙色预警（严重）】东湖区停电话题激增\n\n" + NOTICE.text + "\n\n[查看详情](https://desk.example.cn/alerts/7)"
        "\n\n通知编号：alert-7-2")}}
    assert "wecom-key-1" not in repr(channel)

    long = Notice("alert-8", "长文", "\n".join(f"第{n}条帖文：东湖区停电已持续数小时" for n in range(400)))
    transmitters.notify(channel, long, DUE)
    content = receiver.received[-1]["body"]["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096 and content.endswith("数小时\n…\n\n通知编号：alert-8")  # cut at a line

    receiver.answers["/cgi-bin/webhook/send"] = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(Refused, match="errcode 93000: invalid webhook url"):
        transmitters.notify(channel, NOTICE, DUE)


def test_a_dingtalk_robot_gets_markdown_at_a_signed_url(receiver):
    channel = robot("dingtalk", receiver.url("/robot/send?access_token=ding-token"), secret=SIGNING)
    transmitters.notify(channel, NOTICE, DUE)
    (sent,) = receiver.received
    timestamp = sent["query"]["timestamp"][0]
    assert int(timestamp) == DUE.replace(tzinfo=timezone.utc).timestamp() * 1000
    expected = base64.b64encode(hmac.new(SIGNING.encode(), f"{timestamp}\n{SIGNING}".encode(), hashlib.sha256).digest())
    assert sent["query"]["sign"] == [expected.decode()] and sent["query"]["access_token"] == ["ding-token"]
    assert sent["body"] == {"msgtype": "markdown", "markdown": {
        "title": NOTICE.heading,
        "text": "### " + NOTICE.heading + "\n\n" + NOTICE.text + "\n\n[查看详情](" + NOTICE.link + ")\n\n通知编号：alert-7-2"}}

    transmitters.notify(robot("dingtalk", receiver.url("/robot/send?access_token=ding-token")), NOTICE, DUE)
    assert receiver.received[-1]["query"] == {"access_token": ["ding-token"]}  # no secret: not signed

    receiver.answers["/robot/send"] = {"errcode": 310000, "errmsg": "sign not match"}
    with pytest.raises(Refused, match="errcode 310000: sign not match"):
        transmitters.notify(channel, NOTICE, DUE)


def test_a_webhook_notice_is_signed_as_a_release_is_and_a_file_channel_writes_one_file_per_notice(receiver, tmp_path):
    secret = "notice-secret-0123456789"
    transmitters.notify(transmitters.Channel("hook", "webhook", url=receiver.url("/hook"), secret=secret), NOTICE, DUE)
    (sent,) = receiver.received
    raw = json.dumps(sent["body"], ensure_ascii=False, sort_keys=True).encode("utf-8")
    assert sent["headers"]["X-Crisiswatch-Signature"] == "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Crisiswatch-Delivery"] == "alert-7-2"
    assert sent["body"] == {"notice_id": "alert-7-2", "title": NOTICE.title, "text": NOTICE.text, "level": "II",
                            "link": NOTICE.link, "sent_at": "2024-07-25T02:00:00+00:00"}
    archive = transmitters.Channel("archive", "file", folder=tmp_path / "archive")
    transmitters.notify(archive, NOTICE, DUE)
    transmitters.notify(archive, NOTICE, DUE + timedelta(minutes=1))  # a retry replaces its file
    (written,) = (tmp_path / "archive").iterdir()
    assert written.name == "notice-alert-7-2.json"
    assert json.loads(written.read_text(encoding="utf-8")) == {**sent["body"], "sent_at": "2024-07-25T02:01:00+00:00"}


# -- the channels file and the release outbox ---------------------------------------------------


def test_the_channels_file_takes_email_and_robot_channels_and_says_what_is_wrong(tmp_path):
    path = tmp_path / "channels.toml"
    org = f'[[organisation]]\nname = "{GOV}"\n[[organisation.channel]]\n'

    def load(entry: str):
        path.write_text(org + entry, encoding="utf-8")
        return outbox.load_channels(path)[GOV][0]

    def error(entry: str) -> str:
        with pytest.raises(ChannelConfigError) as raised:
            load(entry)
        return raised.value.code

    mail = 'name = "m"\nkind = "email"\nhost = "smtp.binhai.gov.cn"\nfrom = "a@binhai.gov.cn"\nto = ["b@binhai.gov.cn"]\n'
    channel = load(mail + 'user = "a"\npassword = "pw-of-a"\n')
    assert (channel.port, channel.security, channel.recipients, channel.secret) == (587, "starttls", ("b@binhai.gov.cn",), "pw-of-a")
    assert load(mail + 'security = "ssl"\n').port == 465 and "pw-of-a" not in repr(channel)
    assert error(mail + 'user = "a"\n') == "email_login"
    assert error(mail + 'security = "tls"\n') == "email_security"
    assert error(mail + 'port = "25"\n') == "email_port"
    assert error(mail + 'cafile = "none.pem"\n') == "email_cafile"
    assert error(mail.replace('["b@binhai.gov.cn"]', '"b@binhai.gov.cn"')) == "email_to"
    assert error(mail.replace('from = "a@binhai.gov.cn"\n', "")) == "email_from"
    assert error(mail.replace('host = "smtp.binhai.gov.cn"\n', "")) == "email_host"

    wecom = 'name = "w"\nkind = "wecom"\nurl = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"\n'
    assert load(wecom).secret == "K"  # the key: left out of error messages
    assert error(wecom.replace("?key=K", "")) == "wecom_url"
    ding = 'name = "d"\nkind = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?access_token=T"\n'
    assert load(ding).secret == "" and load(ding + f'secret = "{SIGNING}"\n').secret == SIGNING
    assert error(ding + 'secret = ""\n') == "dingtalk_secret"
    assert error(ding.replace("access_token", "token")) == "dingtalk_url"
    assert error(ding + 'folder = "x"\n') == "channel_keys"
    example = outbox.load_channels(outbox.Path(outbox.__file__).with_name("channels.example.toml"))
    assert [c.kind for c in example[GRID]] == ["webhook", "email", "wecom", "dingtalk"]


def test_a_release_reaches_robots_and_email_and_a_receiver_down_is_retried(sessions, receiver, tmp_path):
    relay = Mailbox()
    smtp = Controller(relay, hostname="127.0.0.1", port=free_port())
    smtp.start()
    down = free_port()  # nothing listens there yet
    channels = {
        GOV: [robot("wecom", receiver.url("/cgi-bin/webhook/send?key=gov")),
              email_channel(tmp_path, smtp.port, security="none")],
        GRID: [robot("dingtalk", f"http://127.0.0.1:{down}/robot/send?access_token=grid", secret=SIGNING)],
    }
    release_id = make_release(sessions)
    enqueue(sessions, release_id, channels)
    receiver.answers["/cgi-bin/webhook/send"] = {"errcode": 45009, "errmsg": "api freq out of limit"}
    try:
        first = outbox.deliver_due(sessions, channels, now=DUE)
    finally:
        smtp.stop()
    assert {(r.channel, r.status, r.error.split(":")[0]) for r in first.results} == {
        ("group", "pending", "Refused"), ("duty", "delivered", ""), ("group", "pending", "cannot reach the webhook")}
    (_, mail), = relay.messages
    assert mail["Subject"] == "关于东湖区停电的通报" and "发布单位：滨海市人民政府新闻办公室、滨海供电局" in mail.get_content()

    del receiver.answers["/cgi-bin/webhook/send"]
    with serving(down) as later:  # the DingTalk robot is up again, at its port
        second = outbox.deliver_due(sessions, channels, now=DUE + timedelta(minutes=1))
    assert {r.status for r in second.results} == {"delivered"} and second.published == [release_id]
    assert [r["body"]["markdown"]["title"] for r in later.received] == ["关于东湖区停电的通报"]
    assert receiver.received[-1]["body"]["markdown"]["content"].startswith("### 关于东湖区停电的通报\n\n受台风影响")
