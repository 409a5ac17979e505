"""Emerging stories: what the latest posts are about (``desk.stories``)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from core.schema import CHINA_TZ
from desk.stories import WINDOWS, emerging
from review_ui.i18n import gettext
from review_ui.services import services

bp = Blueprint("stories", __name__, url_prefix="/stories")


@bp.get("/")
def index():
    # Compared as text: int() and isdigit() would also take other scripts' digits ("²").
    hours = {str(n): n for n in WINDOWS}.get(request.args.get("window", "1"))
    if hours is None:
        abort(400, description=gettext("stories_bad_window", windows=" / ".join(map(str, WINDOWS))))
    found = emerging(services().store, hours)
    return render_template("stories.html", stories=found.stories, samples=found.samples, windows=WINDOWS,
                           hours=hours, since=found.since, until=found.until, search_since=_search_time(found.since))


def _search_time(value) -> str | None:
    """A time as the search page's since/until parameters take it (China time, to the minute)."""
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M") if value else None
