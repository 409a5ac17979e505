"""Jinja filters: China-time display, percentages, authors, and which URLs may become links."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from core.schema import CHINA_TZ
from indexes.query import RUMOR_THRESHOLD

from review_ui.i18n import gettext

LINK_SCHEMES = ("http", "https")


def china_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM`` in China time (UTC+8); the store gives aware UTC datetimes,
    the workflow's tables naive UTC ones (not the server's local time)."""
    if value is None:
        return gettext("none")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    if value is None:
        return gettext("none")
    return f"{round(float(value) * 100)}"


def author(post: dict) -> str:
    """Who wrote a post: the author's (or for news, the site's) name, else the author's id
    on the platform (the Weibo corpus files carry only a user id), else a dash."""
    if post.get("author_name"):
        return post["author_name"]
    if post.get("author_id"):
        return gettext("author_user", id=post["author_id"])
    return gettext("none")


def link_url(value: str | None) -> str | None:
    """The URL if it is a plain http(s) URL with a host, else None (it is then shown as text).

    This keeps ``javascript:``, ``data:`` and other schemes from ever becoming an href;
    the URL itself is still escaped by Jinja like any other post value.
    """
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    return value.strip()


def init_app(app) -> None:
    app.jinja_env.filters.update(china_time=china_time, percent=percent, link_url=link_url, author=author)
    app.jinja_env.globals["rumor_threshold"] = RUMOR_THRESHOLD
