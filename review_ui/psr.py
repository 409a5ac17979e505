"""The PSR timeline on an incident's page: desk.psr's figures as the data psr.js draws
(one time axis of the timeline's buckets, labels in the page's language) and as the rows
of the tables beside it, for people who do not read charts."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime

from desk.tables import FACT_KEYS
from desk.vocabulary import PSR_RESPONSES
from review_ui import i18n

PRESSURE = ("posts", "negative_share", "rumor_clusters", "alerts")


def chart(timeline: dict) -> dict:
    """For psr.js (escaped by ``tojson``): the pressure series per bucket (the negative share
    in per cent), each numeric fact as a step line (its value from the bucket it was set in),
    the responses and phases at their buckets (those before the first bucket are left out)."""
    buckets = timeline["buckets"]
    axis = [_bucket_label(bucket, timeline["interval"]) for bucket in buckets]

    def at(iso: str) -> int | None:
        n = bisect_right(buckets, iso) - 1
        return n if n >= 0 else None

    state = []
    for key in FACT_KEYS:
        values = [value for value in timeline["state"].get(key, []) if isinstance(value["value"], int)]
        if values:
            steps: list[int | None] = [None] * len(buckets)
            for value in values:  # one set before the first bucket holds from it
                n = at(value["at"]) or 0
                steps[n:] = [value["value"]] * (len(buckets) - n)
            state.append({"name": i18n.gettext(f"fact_{key}"), "data": steps})
    phases: dict[str, list[str]] = {}  # phases in one bucket (onset and peak, often) share its line
    for phase in timeline["phases"]:
        if (n := at(phase["at"])) is not None:
            phases.setdefault(axis[n], []).append(i18n.gettext(f"psr_{phase['phase']}"))
    pressure = dict(timeline["pressure"])
    pressure["negative_share"] = [None if share is None else round(100 * share, 1)
                                  for share in pressure["negative_share"]]
    return {
        "buckets": axis,
        "names": {name: i18n.gettext(f"psr_{name}") for name in (*PRESSURE, *PSR_RESPONSES, "pressure", "state",
                                                                   "response")},
        "pressure": pressure,
        "state": state,
        "response": [{"kind": event["kind"], "at": axis[n], "label": response_label(event)}
                     for event in timeline["response"] if (n := at(event["at"])) is not None],
        "phases": [{"name": " · ".join(names), "at": bucket} for bucket, names in phases.items()],
    }


def pressure_rows(timeline: dict) -> list[tuple[datetime, int, float | None, int, int]]:
    """The buckets with posts, new rumor clusters or alerts: (start, posts, negative share,
    rumor clusters first seen, alerts opened)."""
    pressure = timeline["pressure"]
    return [(datetime.fromisoformat(bucket), *figures) for bucket, *figures in zip(
        timeline["buckets"], pressure["posts"], pressure["negative_share"], pressure["rumor_clusters"],
        pressure["alerts"]) if figures[0] or figures[2] or figures[3]]


def events(timeline: dict) -> list[tuple[datetime, str, str]]:
    """The fact sheet's values and the responses in time order: (time, what, value)."""
    found = [(value["at"], i18n.gettext(f"fact_{key}"), str(value["value"]))
             for key, values in timeline["state"].items() for value in values]
    found += [(event["at"], i18n.gettext(f"psr_{event['kind']}"), response_label(event))
              for event in timeline["response"]]
    return [(datetime.fromisoformat(at), what, value) for at, what, value in sorted(found, key=lambda row: row[0])]


def response_label(event: dict) -> str:
    """A release's title as written; an alert by its level and key in the page's language."""
    if "level" in event:
        return i18n.gettext("psr_alert_label", level=event["level"], name=event["key"])
    return event["label"]


def _bucket_label(bucket: str, interval: str) -> str:
    """As the dashboard's axis: 07-24 09:07 by the minute, 07-24 09:00 by the hour, 07-24 by the day."""
    return f"{bucket[5:10]} {bucket[11:16]}" if interval != "day" else bucket[5:10]
