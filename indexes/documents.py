"""A post as an index document: the same fields for every backend."""

from __future__ import annotations

from datetime import datetime, timezone

from core.schema import CHINA_TZ
from indexes.analysis import index_tokens
from indexes.query import RUMOR_THRESHOLD

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
ID_BITS = 31  # sort keys: (time or engagement) << 31 | id, unique and ordered, fit a signed 64-bit field
MAX_ENGAGEMENT = 2**31 - 1


def post_time(post: dict) -> datetime:
    return post["created_at"] or post["stored_at"]


def sort_key(value: int, post_id: int) -> int:
    return (value << ID_BITS) | (post_id & (2**ID_BITS - 1))


def to_fields(post: dict) -> dict:
    """Index fields of a post; list values are multi-valued keyword fields."""
    text = f"{post['title']}\n{post['text']}" if post.get("title") else post["text"]
    when = post_time(post)
    local = when.astimezone(CHINA_TZ)
    hour = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}"
    engagement = min(post["reposts_count"] + post["comments_count"] + post["likes_count"], MAX_ENGAGEMENT)
    fields = {
        "id": post["id"],
        "text": " ".join(index_tokens(text)),
        "platform": post["platform"],
        "time": when,
        "day": hour[:10],
        "hour": hour,
        "engagement": engagement,
        "newest_key": sort_key(max(0, int((when - EPOCH).total_seconds())), post["id"]),
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
    return fields
