"""A post as an index document: the same fields for every backend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from core.schema import CHINA_TZ
from indexes.analysis import index_texts
from indexes.query import RUMOR_THRESHOLD

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
ID_BITS = 31  # sort keys: (time or engagement) << 31 | id, unique and ordered, fit a signed 64-bit field
MAX_ENGAGEMENT = 2**31 - 1
# The fields besides id, text, time and rumor_prob: keywords (facets, filters) and integers (sorts)
KEYWORDS = ("platform", "cluster", "day", "hour", "minute", "verified", "polarity", "sentiment", "rumor", "emotion",
            "topics", "places")
INTEGERS = ("engagement", "newest_key", "engagement_key")


def sort_key(value: int, post_id: int) -> int:
    return (value << ID_BITS) | (post_id & (2**ID_BITS - 1))


def to_fields(posts: list[dict]) -> list[dict]:
    """Index fields of each post; list values are multi-valued keyword fields."""
    texts = [f"{post['title']}\n{post['text']}" if post.get("title") else post["text"] for post in posts]
    return [_fields(post, terms) for post, terms in zip(posts, index_texts(texts))]


@lru_cache(maxsize=4096)  # posts of a batch share a few hours of minutes
def _china_minute(minutes: int) -> str:
    """The minute ``minutes`` after EPOCH in China time, as the ``minute`` field spells it
    (the ``hour`` and ``day`` fields are its first 13 and 10 characters)."""
    return (EPOCH + timedelta(minutes=minutes)).astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M")


def _fields(post: dict, terms: str) -> dict:
    """``post`` as ``Store.posts_to_index`` reads it; ``terms``: its text's index terms."""
    when = post["time"]
    seconds = int((when - EPOCH).total_seconds())
    minute = _china_minute(seconds // 60)
    engagement = min(post["reposts_count"] + post["comments_count"] + post["likes_count"], MAX_ENGAGEMENT)
    fields = {
        "id": post["id"],
        "text": terms,
        "platform": post["platform"],
        "time": when,
        "day": minute[:10],
        "hour": minute[:13],
        "minute": minute,
        "engagement": engagement,
        "newest_key": sort_key(max(0, seconds), post["id"]),
        "engagement_key": sort_key(engagement, post["id"]),
    }
    if post.get("copies", 1) > 1:  # a near-duplicate cluster: only texts with copies have one
        fields["cluster"] = post["cluster"]
    if post.get("author_verified") is not None:
        fields["verified"] = "yes" if post["author_verified"] else "no"
    tags = post.get("tags")
    if tags:
        fields["sentiment"] = tags["sentiment"]
        fields["rumor_prob"] = float(tags["rumor_prob"])
        fields["rumor"] = "likely" if tags["rumor_prob"] >= RUMOR_THRESHOLD else "unlikely"
        fields["topics"] = list(tags.get("topics") or [])
        fields["places"] = list(tags.get("places") or [])
        if tags.get("emotion"):
            fields["emotion"] = tags["emotion"]
        if tags.get("polarity"):  # posts tagged before polarity existed have none
            fields["polarity"] = tags["polarity"]
    return fields
