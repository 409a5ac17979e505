"""Rumors answered on a clock: for each open rumor cluster of an incident, how long it has
been spreading, whether a release answers it, and each deadline (``clocks.toml``) as met,
running or missed. After a release that answers it is published, the cluster's volume in
equal windows before and after the publication shows whether the answer worked."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SHIPPED = Path(__file__).with_name("clocks.toml")


@dataclass(frozen=True)
class Clock:
    name: str
    hours: float
    major_only: bool = False


@dataclass
class Deadline:
    name: str
    due: datetime
    state: str  # met, running, missed
    remaining: timedelta | None  # while running


@dataclass
class RumorClock:
    cluster: str
    since: datetime  # its first post
    spreading_for: timedelta
    answered_by: list[int]  # ids of releases that answer it
    answered_at: datetime | None  # when the first of them was published
    deadlines: list[Deadline]


def load_clocks(path: Path | None = None) -> list[Clock]:
    chosen = path if path and path.exists() else SHIPPED
    raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
    return [Clock(entry["name"], float(entry["hours"]), bool(entry.get("major_only", False)))
            for entry in raw.get("clock", [])]


def rumor_clock(cluster: str, since: datetime, answers: list[tuple[int, datetime | None]], now: datetime,
                clocks: list[Clock], major: bool) -> RumorClock:
    """``answers``: (release id, published_at or None) of the releases that link the cluster."""
    published = sorted(when for _, when in answers if when)
    answered_at = published[0] if published else None
    deadlines = []
    for clock in clocks:
        if clock.major_only and not major:
            continue
        due = since + timedelta(hours=clock.hours)
        if answered_at is not None and answered_at <= due:
            state, remaining = "met", None
        elif now <= due and answered_at is None:
            state, remaining = "running", due - now
        else:
            state, remaining = "missed", None
        deadlines.append(Deadline(clock.name, due, state, remaining))
    return RumorClock(cluster, since, now - since, [release for release, _ in answers], answered_at, deadlines)


def before_and_after(times: list[datetime], published_at: datetime, now: datetime) -> tuple[int, int, timedelta]:
    """Posts of a cluster in the window just before a publication and in an equally long
    window after it (as long as has passed since, up to a day)."""
    window = min(now - published_at, timedelta(days=1))
    before = sum(published_at - window <= t < published_at for t in times)
    after = sum(published_at <= t < published_at + window for t in times)
    return before, after, window
