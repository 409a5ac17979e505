"""Rumors answered on a clock: for each open rumor cluster of an incident, how long it has
been spreading, whether a release answers it, and each deadline (``clocks.toml``) as met,
running or missed. A deadline may name the release channels that meet it: the press
conference is met by a release for a press conference, not by a Weibo post. Once a
release that answers it has been published for ``VOLUME_AFTER`` or more, the cluster's
volume in equal windows before and after the publication shows whether the answer worked
(sooner, the window after it is too short to say anything)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SHIPPED = Path(__file__).with_name("clocks.toml")
VOLUME_AFTER = timedelta(hours=1)  # the shortest window the volume before and after is shown for
SCALED = "# Written by crisiswatch for a live replay: its clocks, scaled to its speed"


@dataclass(frozen=True)
class Clock:
    name: str
    hours: float
    major_only: bool = False
    channels: tuple[str, ...] = ()  # the release channels that meet it; empty: any

    def met_by(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


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
    return [Clock(entry["name"], float(entry["hours"]), bool(entry.get("major_only", False)),
                  tuple(entry.get("channels", ()))) for entry in raw.get("clock", [])]


def scaled_clocks(clocks: list[Clock], speed: float) -> str:
    """``clocks`` as the clocks file of a live replay's home (a demo's or a drill's): their
    hours pass ``speed`` times faster, as the replay's scenario time does."""
    lines = [f"{SCALED} ({speed:g} times faster); remove it to use the shipped clocks."]
    for clock in clocks:
        lines += ["", "[[clock]]", f'name = "{clock.name}"', f"hours = {clock.hours / speed!r}",
                  f"major_only = {'true' if clock.major_only else 'false'}"]
        if clock.channels:
            lines.append("channels = [" + ", ".join(f'"{channel}"' for channel in clock.channels) + "]")
    return "\n".join(lines) + "\n"


def unscaled_clocks(path: Path) -> list[Clock]:
    """The clocks of the home whose clocks file is ``path``: the shipped ones where it has
    none or where a live replay scaled them (``scaled_clocks``), so they are not scaled twice."""
    if path.exists() and path.read_text(encoding="utf-8").startswith(SCALED):
        return load_clocks()
    return load_clocks(path)


def rumor_clock(cluster: str, since: datetime, answers: list[tuple[int, datetime | None, str]], now: datetime,
                clocks: list[Clock], major: bool) -> RumorClock:
    """``answers``: (release id, published_at or None, channel) of the releases that link
    the cluster. A deadline is met by the first published answer of a channel it takes."""
    published = sorted(when for _, when, _ in answers if when)
    deadlines = []
    for clock in clocks:
        if clock.major_only and not major:
            continue
        due = since + timedelta(hours=clock.hours)
        first = min((when for _, when, channel in answers if when and clock.met_by(channel)), default=None)
        if first is not None and first <= due:
            state, remaining = "met", None
        elif first is None and now <= due:
            state, remaining = "running", due - now
        else:
            state, remaining = "missed", None
        deadlines.append(Deadline(clock.name, due, state, remaining))
    return RumorClock(cluster, since, now - since, [release for release, _, _ in answers],
                      published[0] if published else None, deadlines)


def before_and_after(times: list[datetime], published_at: datetime,
                     now: datetime) -> tuple[int, int, timedelta] | None:
    """Posts of a cluster in the window just before a publication and in an equally long
    window after it (as long as has passed since, up to a day); None while less than
    ``VOLUME_AFTER`` has passed."""
    if now - published_at < VOLUME_AFTER:
        return None
    window = min(now - published_at, timedelta(days=1))
    before = sum(published_at - window <= t < published_at for t in times)
    after = sum(published_at <= t < published_at + window for t in times)
    return before, after, window
