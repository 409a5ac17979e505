"""How long each text of the workflow may be, in one place, and the check every text
passes on the server (a browser's ``maxlength`` is only a convenience).

A text over its limit, or one holding a NUL character (which PostgreSQL refuses in text
and no press officer types), is refused with ``Invalid`` naming the field; the UI shows
the field by its name below in the reader's language.
"""

from __future__ import annotations

from desk.rules import Invalid

# field: (Chinese name, English name, most characters)
FIELDS: dict[str, tuple[str, str, int]] = {
    "incident_title": ("事件名称", "incident name", 200),
    "incident_query": ("舆情检索式", "incident search query", 500),
    "fact_value": ("事实内容", "fact value", 500),
    "title": ("标题", "title", 200),
    "body": ("正文", "body", 20_000),
    "comment": ("意见", "comment", 5_000),
    "rumor_clusters": ("所回应的谣言簇", "rumor clusters it answers", 2_000),  # ids joined by commas
}


def check_text(field: str, value: str) -> str:
    """``value`` unchanged, or ``Invalid`` when it is too long or holds a NUL."""
    _, name, limit = FIELDS[field]
    if "\x00" in value:
        raise Invalid("text_nul", field=field, name=name)
    if len(value) > limit:
        raise Invalid("text_long", field=field, name=name, limit=limit, length=len(value))
    return value
