"""Kinds of channel: each registers the transmitter that reads its entries in the channels
file and sends payloads to it, as Superdesk's ``register_transmitter`` does::

    @register_transmitter("sms")
    class SmsTransmitter(Transmitter):
        keys = frozenset({"gateway"})
        ...

The outbox looks a channel's kind up in ``TRANSMITTERS``; this module registers the two
kinds the product has:

- ``webhook``: POSTs the payload with ``Content-Type: application/json; charset=utf-8``,
  ``X-Crisiswatch-Delivery: <delivery id>``, ``X-Crisiswatch-Timestamp: <unix seconds>``
  and ``X-Crisiswatch-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the
  channel's secret>``. The timestamp header is not signed; the body's ``sent_at`` is (it
  is in the body), so a receiver rejects replays by ``sent_at`` and duplicates by
  ``delivery_id``. Any 2xx answer is delivered; redirects are not followed.
- ``file``: writes the payload to ``<folder>/release-<release id>-<org id>-<channel>.json``
  (to a temporary file, then renamed).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.errors import CodedError
from desk.tables import Delivery

TIMEOUT = 10  # seconds, per webhook request


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
        "webhook_secret": "{where}: a webhook channel needs a secret of 16 characters or more",
        "file_folder": "{where}: a file channel needs folder = \"PATH\"",
        "file_home": "{where}: the folder {folder!r} names no user's home",
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


class Transmitter(ABC):
    keys: frozenset[str] = frozenset()  # what a channel entry of the kind holds beside name and kind

    @abstractmethod
    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        """The channel an entry describes, its keys already checked against ``keys``;
        ``ChannelConfigError`` with ``where`` for a wrong value. ``base`` is the channels
        file's folder, which relative paths start from."""

    @abstractmethod
    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        """Deliver ``body``, or raise ``OSError`` or ``http.client.HTTPException``."""


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

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        url, secret = entry.get("url"), entry.get("secret")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not _host(url):
            raise ChannelConfigError("webhook_url", where=where)
        if not isinstance(secret, str) or len(secret) < 16:
            raise ChannelConfigError("webhook_secret", where=where)
        return Channel(name, "webhook", url=url, secret=secret)

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        """POST the body; urllib raises HTTPError for any answer but 2xx."""
        request = urllib.request.Request(channel.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "crisiswatch-outbox",
            "X-Crisiswatch-Delivery": str(delivery.id),
            "X-Crisiswatch-Timestamp": str(int(now.replace(tzinfo=timezone.utc).timestamp())),
            "X-Crisiswatch-Signature": sign(channel.secret, body),
        })
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=TIMEOUT):
            pass


def _host(url: str) -> str | None:
    """The URL's host; None when it has none or is malformed (which urllib raises
    ``ValueError`` for only when it is sent)."""
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect answers the POST with an error, not with a GET elsewhere


@register_transmitter("file")
class FileTransmitter(Transmitter):
    keys = frozenset({"folder"})

    def channel(self, name: str, entry: dict, where: Place, base: Path) -> Channel:
        folder = entry.get("folder")
        if not isinstance(folder, str) or not folder or "\x00" in folder:
            raise ChannelConfigError("file_folder", where=where)
        try:
            return Channel(name, "file", folder=base / Path(folder).expanduser())
        except RuntimeError:  # ~user of no such user
            raise ChannelConfigError("file_home", where=where, folder=folder) from None

    def send(self, channel: Channel, body: bytes, delivery: Delivery, now: datetime) -> None:
        """Write whole or not at all: a reader of the folder never sees half a release."""
        target = channel.folder / f"release-{delivery.release_id}-{delivery.org_id}-{channel.name}.json"
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
