"""Emerging stories: what the latest posts are about, as clusters labelled with key words,
in a window of recent hours against the day before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.store import Store
from nlp.stories import Story, emerging_stories

WINDOWS = (1, 6, 24)  # hours
BASELINE = timedelta(hours=24)  # the window is compared with the day before it
MAX_RECENT, MAX_BASELINE = 5_000, 20_000  # posts read for each, newest first


@dataclass
class Emerging:
    stories: list[Story] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    samples: dict[int, dict] = field(default_factory=dict)  # post id -> post, for the stories' samples


def emerging(store: Store, hours: int) -> Emerging:
    """The stories of the last ``hours`` (one of ``WINDOWS``) before the newest post.

    The window ends at the newest post, not at the clock: a replayed or paused feed
    still shows what was new when it was last fed."""
    if hours not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS} hours, not {hours!r}")
    latest = store.latest_post_time()
    if latest is None:
        return Emerging()
    until = latest + timedelta(seconds=1)
    since = until - timedelta(hours=hours)
    recent = store.texts_between(since, until, MAX_RECENT)
    baseline = [text for _, text, _ in store.texts_between(since - BASELINE, since, MAX_BASELINE)]
    stories = emerging_stories(recent, baseline)
    samples = store.get_posts([i for story in stories for i in story.samples])
    return Emerging(stories, since, until, samples)
