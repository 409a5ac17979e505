"""Emerging stories: what the latest posts are about, as clusters labelled with key words."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, request

from core.schema import CHINA_TZ
from nlp.stories import emerging_stories
from review_ui.i18n import gettext
from review_ui.services import services

bp = Blueprint("stories", __name__, url_prefix="/stories")

WINDOWS = (1, 6, 24)  # hours
BASELINE = timedelta(hours=24)  # the window is compared with the day before it
MAX_RECENT, MAX_BASELINE = 5_000, 20_000  # posts read for each, newest first


@bp.get("/")
def index():
    # Compared as text: int() and isdigit() would also take other scripts' digits ("²").
    hours = {str(n): n for n in WINDOWS}.get(request.args.get("window", "1"))
    if hours is None:
        abort(400, description=gettext("stories_bad_window", windows=" / ".join(map(str, WINDOWS))))
    window = timedelta(hours=hours)
    store = services().store
    latest = store.latest_post_time()
    stories, since, until, samples = [], None, None, {}
    if latest is not None:
        # The window ends at the newest post, not at the clock: a replayed or paused feed
        # still shows what was new when it was last fed.
        until = latest + timedelta(seconds=1)
        since = until - window
        recent = store.texts_between(since, until, MAX_RECENT)
        baseline = [text for _, text, _ in store.texts_between(since - BASELINE, since, MAX_BASELINE)]
        stories = emerging_stories(recent, baseline)
        samples = store.get_posts([i for story in stories for i in story.samples])
    return render_template("stories.html", stories=stories, samples=samples, windows=WINDOWS, hours=hours,
                           since=since, until=until, search_since=_search_time(since))


def _search_time(value) -> str | None:
    """A time as the search page's since/until parameters take it (China time, to the minute)."""
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M") if value else None
