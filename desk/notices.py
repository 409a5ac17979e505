"""Notices: a warning to people (an alert, a release gone out), as each kind of channel
shows it. A channel's transmitter sends one with ``notify`` (``desk.transmitters``):
a webhook gets it as signed JSON, an email as plain text, a WeCom or DingTalk group
robot as Markdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The four warning levels (预警级别), lowest first: IV blue 一般, III yellow 较重,
# II orange 严重, I red 特别严重; and the words a heading names them by.
LEVELS = ("IV", "III", "II", "I")
LEVEL_NAMES = {"I": "Ⅰ级 红色预警（特别严重）", "II": "Ⅱ级 橙色预警（严重）",
               "III": "Ⅲ级 黄色预警（较重）", "IV": "Ⅳ级 蓝色预警（一般）"}
ROBOT_BYTES = 4000  # a WeCom robot takes up to 4096 bytes of Markdown; DingTalk more


@dataclass(frozen=True)
class Notice:
    """``text`` is plain lines, which Markdown shows as they are (a line may be a Markdown
    list item or link); ``id`` is the same each time the same warning is sent again, so a
    receiver can drop the copies; ``level`` is one of ``LEVELS`` or empty."""

    id: str
    title: str
    text: str
    level: str = ""
    link: str = ""

    def __post_init__(self):
        if not self.id or not self.id.isascii() or not self.id.isprintable() or " " in self.id:
            raise ValueError(f"a notice's id goes in headers: ASCII without spaces, got {self.id!r}")
        if self.level and self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)} or empty, got {self.level!r}")

    @property
    def heading(self) -> str:
        return f"【{LEVEL_NAMES[self.level]}】{self.title}" if self.level else self.title

    def plain(self) -> str:
        """The email's text: the text, then the link on a line of its own."""
        return f"{self.text}\n\n{self.link}\n" if self.link else f"{self.text}\n"

    def markdown(self) -> str:
        """The group robots' message, cut (at a line, else a character) to fit one; its
        last line is the id, which a robot carries nowhere else."""
        link = (f"\n\n[查看详情]({self.link})" if self.link else "") + f"\n\n通知编号：{self.id}"
        head = f"### {self.heading}\n\n"
        room = ROBOT_BYTES - len((head + link).encode("utf-8"))
        text = self.text
        if len(text.encode("utf-8")) > room:
            text = text.encode("utf-8")[:room - len("\n…".encode("utf-8"))].decode("utf-8", "ignore")
            text = (text.rpartition("\n")[0] or text) + "\n…"
        return head + text + link

    def json(self, sent_at: str) -> bytes:
        """A webhook's body: UTF-8 JSON, signed as a release's is."""
        value = {"notice_id": self.id, "title": self.title, "text": self.text, "level": self.level,
                 "link": self.link, "sent_at": sent_at}
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8")


def release_notice(body: bytes, delivery_id: int) -> Notice:
    """What an email or group-robot channel gets of a release (``desk.outbox.payload``):
    its title and text, with who signed it."""
    release = json.loads(body)
    signed = "、".join(org["name"] for org in release["organisations"])
    return Notice(f"delivery-{delivery_id}", release["title"], f"{release['body']}\n\n发布单位：{signed}")
