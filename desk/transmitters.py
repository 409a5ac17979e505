"""Kinds of channel: each registers the transmitter that reads its entries in the channels
file and sends payloads to it, as Superdesk's ``register_transmitter`` does::

    @register_transmitter("sms")
    class SmsTransmitter(Transmitter):
        keys = frozenset({"gateway"})
        ...

The outbox looks a channel's kind up in ``TRANSMITTERS``; a transmitter also sends
``Notice``s (warnings to people, ``desk.notices``) with ``notify`` where its kind can. This
module registers the kinds the product has:

- ``webhook``: POSTs the payload with ``Content-Type: application/json; charset=utf-8``,
  ``X-Crisiswatch-Delivery: <delivery id>``, ``X-Crisiswatch-Timestamp: <unix seconds>``
  and ``X-Crisiswatch-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the
  channel's secret>``. The timestamp header is not signed; the body's ``sent_at`` is (it
  is in the body), so a receiver rejects replays by ``sent_at`` and duplicates by
  ``delivery_id``. Any 2xx answer is delivered; redirects are not followed.
  A notice is POSTed the same way, its JSON ``Notice.json`` and its id the delivery header.
- ``file``: writes the payload to ``<folder>/release-<release id>-<org id>-<channel>.json``
  (to a temporary file, then renamed), a notice (``Notice.json``) to
  ``<folder>/notice-<notice id>.json`` the same way.
- ``email``: a plain-text UTF-8 mail over SMTP (STARTTLS, TLS or, to a relay on this
  machine, neither), its ``Message-ID`` made from the notice's id, which
  ``X-Crisiswatch-Notice`` holds as it is. A release goes as a
  notice of its text (``desk.notices.release_notice``), as it does to the robots.
- ``wecom`` (企业微信) and ``dingtalk`` (钉钉) group robots: a Markdown message POSTed to
  the robot's webhook URL, its last line the notice's id (``通知编号：<id>``); DingTalk's
  URL is signed when the robot has a signing secret
  (``&timestamp=<ms>&sign=<base64 HMAC-SHA256 of "<timestamp>\\n<secret>">``). The robot
  answers HTTP 200 also when it refuses; only ``"errcode": 0`` in the answer is delivered.

Every failure to deliver is an ``OSError`` (``smtplib``'s errors are; ``TimeoutError``
when a request or an SMTP conversation takes over ``DEADLINE`` in all) or an
``http.client.HTTPException`` (``Refused`` when a robot says no), which the outbox retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import logging
import os
import smtplib
import socket
import ssl
import tempfile
import threading
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Callable, Iterator

from core.errors import CodedError
from core.store import naive_utc, utcnow
from desk.notices import Notice, release_notice
from desk.tables import Delivery

TIMEOUT = 10  # seconds, per read or write of a webhook request or SMTP exchange
DEADLINE = 60  # seconds, for a whole webhook request or SMTP conversation
ANSWER_BYTES = 65536  # the most of a robot's answer read
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """Where in the channels file a mistake is: the file, an ``[[organisation]]`` table (by
    number, then also by name), or a channel of it (the same). ``str`` says it in English;
    the UI says it in the reader's language."""

    path: Path
    org: int | None = None
    org_name: str | None = None
    channel: int | None = None
    channel_name: str | None = None

    def __str__(self) -> str:
        text = str(self.path)
        if self.org is not None:
            text += f": [[organisation]] number {self.org}"
        if self.org_name is not None:
            text += f" ({self.org_name})"
        if self.channel is not None:
            text += f", channel {self.channel}"
        if self.channel_name is not None:
            text += f" ({self.channel_name})"
        return text


class ChannelConfigError(CodedError, ValueError):
    """A mistake in the channels file, saying where (``where``, a ``Place``). A transmitter
    registered elsewhere may raise it with a message of its own (in English) in place of
    a code; the UI then shows that message as it is."""

    PREFIX = "channels_"
    MESSAGES = {
        "missing": "{path} does not exist (see desk/channels.example.toml)",
        "toml": "{path} is not valid TOML: {error}",
        "top_keys": "{path}: unknown top-level key(s) {keys}; only [[organisation]] tables",
        "orgs_not_tables": "{path}: organisation must be [[organisation]] tables",
        "org_not_table": "{where} is not a table",
        "org_name": "{where} needs a name (the organisation's name as in the workflow)",
        "org_twice": "{where}: {name!r} is configured twice; merge its channels into one table",
        "org_keys": "{where}: unknown key(s) {keys}",
        "channels_not_tables": "{where}: channel must be [[organisation.channel]] tables",
        "channel_names": "{where}: channel names must be unique, got {names}",
        "channel_not_table": "{where} is not a table",
        "channel_name": "{where}: name must be letters, digits, '-' or '_', got {name!r}",
        "channel_kind": "{where}: kind must be one of {kinds}, got {kind!r}",
        "channel_keys": "{where}: unknown key(s) {keys} for a {kind} channel",
        "webhook_url": "{where}: a webhook channel needs url = \"https://...\"",
        "url_text": "{where}: url must be ASCII without spaces; percent-encode other characters "
                    "(中文 is %E4%B8%AD%E6%96%87)",
        "webhook_secret": "{where}: a webhook channel needs a secret of 16 characters or more",
        "file_folder": "{where}: a file channel needs folder = \"PATH\"",
        "file_home": "{where}: the folder {folder!r} names no user's home",
        "email_host": "{where}: an email channel needs host = \"smtp.example.cn\" (its SMTP server)",
        "email_security": "{where}: security must be starttls, ssl or none, got {security!r}",
        "email_port": "{where}: port must be a number from 1 to 65535, got {port!r}",
        "email_login": "{where}: user and password go together: give both or neither",
        "email_cafile": "{where}: cafile {cafile!r} is not a file of trusted certificates",
        "email_from": "{where}: an email channel needs from = \"name@example.cn\"",
        "email_to": "{where}: an email channel needs to = [\"name@example.cn\", ...], got {to!r}",
        "wecom_url": "{where}: a wecom channel needs the robot's url = "
                     "\"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...\"",
        "dingtalk_url": "{where}: a dingtalk channel needs the robot's url = "
                        "\"https://oapi.dingtalk.com/robot/send?access_token=...\"",
        "dingtalk_secret": "{where}: secret must be the robot's signing secret (SEC...) or left out",
        "cannot_notify": "channel {channel!r} is a {kind} channel, which cannot carry warnings; "
                         "use a channel of kind {kinds}",
        "daily_report": "{where}: daily_report must list channels of this organisation that take notices "
                        "({channels}), got {names!r}",
        "transmitter": "{message}",
    }

    def __init__(self, code: str, **values):
        if code not in self.MESSAGES:  # a transmitter's own message
            code, values = "transmitter", {"message": code}
        super().__init__(code, **values)


@dataclass(frozen=True)
class Channel:
    """A channel of the channels file; a kind whose settings are not these subclasses it."""

    name: str
    kind: str  # a key of TRANSMITTERS
    url: str = ""
    secret: str = field(default="", repr=False)
    folder: Path | None = None


@dataclass(frozen=True)
class EmailChannel(Channel):
    """``secret`` is the SMTP password."""

    host: str = ""
    port: int = 0
    security: str = "starttls"  # a key of SMTP_PORTS
    user: str = ""
    sender: str = ""
    recipients: tuple[str, ...] = ()
    cafile: Path | None = None  # trusted certificates, for a server with a private CA


@dataclass(frozen=True)
class RobotChannel(Channel):
    """A group robot; its URL holds its key, so it is not shown either."""

    url: str = field(default="", repr=False)


class Transmitter(ABC):
    keys: frozenset[str] = frozenset()  # what a channel entry of the kind holds beside name and kind
    takes_notices = False  # whether the kind sends notices: True where it overrides ``notify``

    @abstractmethod
    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        """The channel an entry describes, its keys already checked against ``keys``;
        ``ChannelConfigError`` with ``where`` for a wrong value. ``base`` is the channels
        file's folder, which relative paths start from."""

    @abstractmethod
    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        """Deliver ``body``, or raise ``OSError`` or ``http.client.HTTPException``."""

    def notify(self, channel: Channel, notice: Notice, now: datetime) -> None:
        """Deliver the notice, or raise as ``send`` does; a kind that cannot refuses
        (``ChannelConfigError``: a warning was given to the wrong channel)."""
        kinds = [kind for kind, transmitter in TRANSMITTERS.items() if transmitter.takes_notices]
        raise ChannelConfigError("cannot_notify", channel=channel.name, kind=channel.kind, kinds=", ".join(kinds))


class Refused(http.client.HTTPException):
    """The receiver answered, but did not take the message (a robot's errcode)."""


def notify(channel: Channel, notice: Notice, now: datetime | None = None) -> None:
    """Send a notice to a channel with the transmitter of its kind (see ``Transmitter.notify``)."""
    TRANSMITTERS[channel.kind].notify(channel, notice, naive_utc(now) or utcnow())


TRANSMITTERS: dict[str, Transmitter] = {}


def register_transmitter(kind: str):
    """Class decorator: channels of ``kind`` are read and sent by an instance of the class."""

    def register(cls: type[Transmitter]) -> type[Transmitter]:
        TRANSMITTERS[kind] = cls()
        return cls

    return register


@register_transmitter("webhook")
class WebhookTransmitter(Transmitter):
    keys = frozenset({"url", "secret"})
    takes_notices = True

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        url, secret = entry.get("url"), entry.get("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not _host(url):
            raise ChannelConfigError("webhook_url", where=where)
        _check_text(url, where)
        if not isinstance(secret, str) or len(secret) < 16:
            raise ChannelConfigError("webhook_secret", where=where)
        return Channel(name, "webhook", url=url, secret=secret)

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        self._signed(channel, body, str(delivery.id), now)

    def notify(self, channel: Channel, notice: Notice, now: datetime) -> None:
        self._signed(channel, notice.json(_utc(now).isoformat()), notice.id, now)

    def _signed(self, channel: Channel, body: bytes, delivery_id: str, now: datetime) -> None:
        _post(channel.url, body, {
            "X-Crisiswatch-Delivery": delivery_id,
            "X-Crisiswatch-Timestamp": str(int(_utc(now).timestamp())),
            "X-Crisiswatch-Signature": sign(channel.secret, body),
        })


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """POST JSON; the start of the answer, all within ``DEADLINE``. urllib raises
    HTTPError for any answer but 2xx."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "crisiswatch-outbox", **(headers or {})})
    sockets: list[socket.socket] = []
    opener = urllib.request.build_opener(_NoRedirect, _Watching(sockets), _WatchingTLS(sockets))
    with _within(DEADLINE, lambda: sockets), opener.open(request, timeout=TIMEOUT) as answer:
        return answer.read(ANSWER_BYTES)


@contextmanager
def _within(seconds: float, sockets: Callable[[], list[socket.socket | None]]) -> Iterator[None]:
    """Cut the connections (``sockets()`` at that time) off once ``seconds`` have passed,
    then raise ``TimeoutError``: ``TIMEOUT`` bounds each read only, and a receiver that
    answers a byte at a time would hold the sender for hours. A shutdown ends a read
    waiting on the socket in another thread."""
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        for sock in sockets():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):  # closed already, or not opened yet
                pass

    timer = threading.Timer(seconds, cut_off)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as err:
        if cut.is_set():
            raise TimeoutError(f"no whole exchange within {seconds:g} s") from err
        raise
    finally:
        timer.cancel()
    if cut.is_set():  # what was read before the cut is not the whole answer
        raise TimeoutError(f"no whole exchange within {seconds:g} s")


class _Recorded:
    """A connection that lists its socket once it is open (for ``_within``)."""

    def __init__(self, *args, sockets: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.sockets = sockets

    def connect(self) -> None:
        super().connect()
        self.sockets.append(self.sock)


class _RecordedHTTP(_Recorded, http.client.HTTPConnection):
    pass


class _RecordedHTTPS(_Recorded, http.client.HTTPSConnection):
    pass


class _Watching(urllib.request.HTTPHandler):
    def __init__(self, sockets: list):
        super().__init__()
        self.sockets = sockets

    def http_open(self, req):
        return self.do_open(_RecordedHTTP, req, sockets=self.sockets)


class _WatchingTLS(urllib.request.HTTPSHandler):
    def __init__(self, sockets: list):
        super().__init__()
        self.sockets = sockets

    def https_open(self, req):
        return self.do_open(_RecordedHTTPS, req, sockets=self.sockets)


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=timezone.utc)


def _host(url: str) -> str | None:
    """The URL's host; None when it has none or is malformed (which urllib raises
    ``ValueError`` for only when it is sent)."""
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def _check_text(url: str, where: Place) -> None:
    """A URL is sent as it is written: only ASCII goes in a request line."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ChannelConfigError("url_text", where=where)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect answers the POST with an error, not with a GET elsewhere


@register_transmitter("file")
class FileTransmitter(Transmitter):
    keys = frozenset({"folder"})
    takes_notices = True

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        folder = entry.get("folder")
        if not isinstance(folder, str) or not folder or "\x00" in folder:
            raise ChannelConfigError("file_folder", where=where)
        try:
            return Channel(name, "file", folder=base / Path(folder).expanduser())
        except RuntimeError:  # ~user of no such user
            raise ChannelConfigError("file_home", where=where, folder=folder) from None

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        _write_whole(channel.folder / f"release-{delivery.release_id}-{delivery.org_id}-{channel.name}.json", body)

    def notify(self, channel: Channel, notice: Notice, now: datetime) -> None:
        """A notice sent again replaces its file: a retry never leaves two."""
        _write_whole(channel.folder / f"notice-{notice.id}.json", notice.json(_utc(now).isoformat()))


def _write_whole(target: Path, body: bytes) -> None:
    """Write whole or not at all: a reader of the folder never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@register_transmitter("email")
class EmailTransmitter(Transmitter):
    keys = frozenset({"host", "port", "security", "user", "password", "from", "to", "cafile"})
    takes_notices = True

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> EmailChannel:
        host, security = entry.get("host"), entry.get("security", "starttls")
        if not isinstance(host, str) or not host.strip():
            raise ChannelConfigError("email_host", where=where)
        if not isinstance(security, str) or security not in SMTP_PORTS:
            raise ChannelConfigError("email_security", where=where, security=security)
        port = entry.get("port", SMTP_PORTS[security])
        if type(port) is not int or not 0 < port < 65536:
            raise ChannelConfigError("email_port", where=where, port=port)
        user, password = entry.get("user", ""), entry.get("password", "")
        if not isinstance(user, str) or not isinstance(password, str) or bool(user) != bool(password):
            raise ChannelConfigError("email_login", where=where)
        cafile = entry.get("cafile")
        if cafile is not None:
            if not isinstance(cafile, str) or not (base / cafile).is_file():
                raise ChannelConfigError("email_cafile", where=where, cafile=cafile)
            cafile = base / cafile
        sender, to = entry.get("from"), entry.get("to")
        if not isinstance(sender, str) or not _address(sender):
            raise ChannelConfigError("email_from", where=where)
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and _address(a) for a in to):
            raise ChannelConfigError("email_to", where=where, to=to)
        return EmailChannel(name, "email", secret=password, host=host.strip(), port=port, security=security,
                            user=user, sender=sender, recipients=tuple(to), cafile=cafile)

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        self.notify(channel, release_notice(body, delivery.id), now)

    def notify(self, channel: EmailChannel, notice: Notice, now: datetime) -> None:
        message = EmailMessage()  # its policy encodes a Chinese subject (RFC 2047)
        message["Subject"] = " ".join(notice.heading.split())  # a line break in a title is no header's
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.recipients)
        message["Date"] = format_datetime(_utc(now))
        # the same for each copy of a notice, so that a mail client shows it once
        digest = hashlib.sha256(notice.id.encode("utf-8")).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@{_address(channel.sender).rpartition('@')[2]}>"
        message["X-Crisiswatch-Notice"] = notice.id
        message.set_content(notice.plain(), charset="utf-8", cte="base64")
        context = ssl.create_default_context(cafile=channel.cafile)
        made: list[smtplib.SMTP] = []  # its socket changes at STARTTLS: cut the one it has then
        with _within(DEADLINE, lambda: [smtp.sock for smtp in made]):
            if channel.security == "ssl":
                smtp = _SMTP_SSL(channel.host, channel.port, timeout=TIMEOUT, context=context, made=made)
            else:
                smtp = _SMTP(channel.host, channel.port, timeout=TIMEOUT, made=made)
            with smtp:
                if channel.security == "starttls":
                    smtp.starttls(context=context)
                if channel.user:
                    smtp.login(channel.user, channel.secret)
                refused = smtp.send_message(message)  # raises when every recipient is refused
        if refused:
            log.warning("channel %s: the server refused %s", channel.name, ", ".join(refused))


class _Made:
    """An SMTP client that lists itself before it connects (for ``_within``)."""

    def __init__(self, *args, made: list, **kwargs):
        made.append(self)
        super().__init__(*args, **kwargs)


class _SMTP(_Made, smtplib.SMTP):
    pass


class _SMTP_SSL(_Made, smtplib.SMTP_SSL):
    pass


def _address(text: str) -> str:
    """The address of ``name <address>`` or ``address``; empty when it is none."""
    address = parseaddr(text)[1]
    return address if "@" in address.strip("@") else ""


class RobotTransmitter(Transmitter):
    """A group robot's webhook: a JSON message POSTed to its URL, which names the robot by
    ``query_key``; delivered when the answer says ``"errcode": 0``."""

    keys = frozenset({"url"})
    takes_notices = True
    kind = query_key = ""

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> RobotChannel:
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not _host(url):
            raise ChannelConfigError(f"{self.kind}_url", where=where)
        _check_text(url, where)
        robot = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get(self.query_key, [""])[0]
        if not robot:
            raise ChannelConfigError(f"{self.kind}_url", where=where)
        return RobotChannel(name, self.kind, url=url, secret=robot)

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        self.notify(channel, release_notice(body, delivery.id), now)

    def notify(self, channel: Channel, notice: Notice, now: datetime) -> None:
        body = json.dumps(self.message(notice), ensure_ascii=False).encode("utf-8")
        answer = _post(self.address(channel, now), body)
        try:
            value = json.loads(answer)
            code, why = value["errcode"], value.get("errmsg", "")
        except (ValueError, TypeError, KeyError):
            raise Refused(f"the robot's answer has no errcode: {answer[:200].decode('utf-8', 'replace')}") from None
        if code != 0:
            raise Refused(f"the robot answered errcode {code}: {why}")

    @abstractmethod
    def message(self, notice: Notice) -> dict:
        """The robot's JSON message."""

    def address(self, channel: Channel, now: datetime) -> str:
        return channel.url


@register_transmitter("wecom")
class WecomTransmitter(RobotTransmitter):
    kind, query_key = "wecom", "key"

    def message(self, notice: Notice) -> dict:
        return {"msgtype": "markdown", "markdown": {"content": notice.markdown()}}


@register_transmitter("dingtalk")
class DingtalkTransmitter(RobotTransmitter):
    """``secret`` is the robot's signing secret, when it has one (加签)."""

    keys = frozenset({"url", "secret"})
    kind, query_key = "dingtalk", "access_token"

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> RobotChannel:
        secret = entry.get("secret", "")
        if "secret" in entry and (not isinstance(secret, str) or not secret or secret != secret.strip()):
            raise ChannelConfigError("dingtalk_secret", where=where)
        return replace(super().channel(name, entry, where, base), secret=secret)

    def message(self, notice: Notice) -> dict:
        return {"msgtype": "markdown", "markdown": {"title": notice.heading, "text": notice.markdown()}}

    def address(self, channel: Channel, now: datetime) -> str:
        """The URL, signed when the robot has a secret: DingTalk takes the timestamp
        within an hour of its own clock."""
        if not channel.secret:
            return channel.url
        timestamp = str(int(_utc(now).timestamp() * 1000))
        return channel.url + "&" + urllib.parse.urlencode(
            {"timestamp": timestamp, "sign": _dingtalk_sign(channel.secret, timestamp)})


def _dingtalk_sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
