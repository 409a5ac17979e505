"""An incident's pressure-state-response (PSR) timeline, on one time axis: the pressure of
public opinion (posts, negative share, rumor clusters first seen, alerts opened, per time
bucket), the state the fact sheet records (its values as they were set) and the response
(releases and press conferences published, alerts acknowledged and closed), with the
phases where the figures turn.

The window and buckets are the incident's dashboard's (``dashboard.incident_since`` to
``now``), and the counts come from the index through the same searches, so a search over
a bucket gives its count. The phases, each with its reason in Chinese (``reason``, for
the reports) and as a code with its values (``code``, ``values``: ``REASONS``' text, which
the review UI's catalog words in the page's language as ``psr_reason_<code>``):

- onset: the first bucket with at least ``ONSET_POSTS`` posts and more than twice the
  baseline (the posts per bucket in the window before the incident was opened), or the
  bucket of the first alert where that comes earlier;
- peak: the bucket with the most posts (the first of equals);
- recovery: the first bucket after the peak from which every bucket to the window's end
  has fewer than half the peak's posts (none while the last is still at half or more).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import Store, naive_utc
from desk import alerts as desk_alerts, dashboard
from desk.facts import fact_history
from desk.releases import current_version
from desk.tables import Alert, Incident, Release
from indexes.query import SearchQuery
from indexes.results import IDS_CHUNK, search

DAILY_AFTER = timedelta(days=7)  # a longer window is bucketed by day, as a special report's
ONSET_POSTS = 3  # a bucket of fewer posts starts nothing, however quiet it was before
REASONS = {  # a phase's reason by its code, its values as placeholders
    "first_alert": "首条预警生成",
    "above_baseline": "信息量达到{posts}条，首次超过事发前基线（每时段{baseline}条）的两倍",
    "above_nothing": "信息量达到{posts}条，事发前无相关信息",
    "most_posts": "信息量最高，{posts}条",
    "below_half_peak": "此后各时段信息量均低于峰值（{peak}条）的一半",
}
RUMOR_POSTS = 20_000  # the newest rumor posts read for the clusters' first sightings


def interval(since: datetime, until: datetime) -> str:
    return "hour" if until - since <= DAILY_AFTER else "day"


def _page_interval(incident: Incident, since: datetime, until: datetime) -> str:
    """The incident page's buckets: by the minute while the incident is young, as its dashboard's."""
    young = dashboard.incident_interval(incident, until) == "minute"
    return "minute" if young else interval(since, until)


def timeline(session: Session, store: Store, index, incident: Incident, now: datetime, *, user=None,
             board: dashboard.Dashboard | None = None) -> dict:
    """The incident's PSR timeline (the "psr" section of a special report). ``user``: only the
    alerts that person sees, as the incident page lists them; ``board``: the incident's
    dashboard over the same window, where the caller has it already."""
    since, until = dashboard.incident_since(incident).astimezone(CHINA_TZ), dashboard.aware(now).astimezone(CHINA_TZ)
    step = board.interval if board else _page_interval(incident, since, until)
    query = incident.query or ""
    board = board or dashboard.build(store, index, query, since, until, step)
    base = SearchQuery(text=query, since=since, until=until, interval=step, sort="newest", per_page=1)
    posts = {key: sum(series[n] for series in board.volume.values()) for n, key in enumerate(board.buckets)}
    negative = dict(search(store, index, replace(base, polarities=("negative",))).histogram)
    clusters = _bucketed(_first_sightings(store, index, replace(base, rumor=True)), step)
    alerts = _alerts(session, incident, user)
    opened = _bucketed([at for at in (dashboard.aware(alert.opened_at) for alert in alerts) if since <= at <= until],
                       step)
    # the axis reaches the window's end, so that a fall to no posts at all shows as one
    keys = sorted({*posts, *clusters, *opened, _key(until, step)}) if posts or opened else []
    keys = dashboard.continuous(keys, step)
    counts = [posts.get(key, 0) for key in keys]
    return {
        "query": query, "filters": {"incident": incident.id}, "since": _iso(since), "until": _iso(until),
        "interval": step, "buckets": [_bucket_iso(key, step) for key in keys],
        "pressure": {"posts": counts,
                     "negative_share": [negative.get(key, 0) / n if n else None for key, n in zip(keys, counts)],
                     "rumor_clusters": [clusters.get(key, 0) for key in keys],
                     "alerts": [opened.get(key, 0) for key in keys]},
        "state": _state(session, incident, until),
        "response": _response(session, incident, alerts, until),
        "phases": _phases(keys, counts, opened, _baseline(posts, since, dashboard.aware(incident.started_at), step),
                          step),
    }


def _first_sightings(store: Store, index, rumors: SearchQuery) -> list[datetime]:
    """When each rumor cluster among the search's posts was first seen in them."""
    first: dict[str, datetime] = {}
    ids = list(index.ids(rumors, RUMOR_POSTS))
    for start in range(0, len(ids), IDS_CHUNK):
        for post in store.get_posts(ids[start:start + IDS_CHUNK]).values():
            at = post["created_at"] or post["stored_at"]
            if post["cluster"] and (post["cluster"] not in first or at < first[post["cluster"]]):
                first[post["cluster"]] = at
    return list(first.values())


def _alerts(session: Session, incident: Incident, user) -> list[Alert]:
    """The alerts linked to the incident and those its releases answer."""
    release_ids = list(session.scalars(select(Release.id).where(Release.incident_id == incident.id)))
    if user is not None:
        return [alert for alert, _, _ in desk_alerts.incident_alerts(session, user, incident, release_ids)]
    return list(session.scalars(select(Alert).where((Alert.incident_id == incident.id)
                                                    | Alert.release_id.in_(release_ids))
                                .order_by(Alert.opened_at, Alert.id)))


def _state(session: Session, incident: Incident, until: datetime) -> dict[str, list[dict]]:
    """Each fact's values as they were set, oldest first: households as a number, areas
    joined with 、, the others as written."""
    state: dict[str, list[dict]] = {}
    for fact in fact_history(session, incident):
        if fact.updated_at > naive_utc(until):
            continue
        value = int(fact.value) if fact.key == "households" else fact.value
        value = "、".join(value) if isinstance(value, list) else value
        state.setdefault(fact.key, []).append({"at": _iso(fact.updated_at), "value": value})
    return state


def _response(session: Session, incident: Incident, alerts: list[Alert], until: datetime) -> list[dict]:
    """Releases published (a press conference's statement as one), alerts acknowledged and
    closed, in time order."""
    events = []
    published = select(Release).where(Release.incident_id == incident.id, Release.published_at.is_not(None),
                                      Release.published_at <= naive_utc(until))
    for release in session.scalars(published):
        kind = "press_conference" if release.channel == "press_conference" else "release"
        events.append((release.published_at, kind, release.id, {"label": current_version(session, release).title}))
    for alert in alerts:  # its level and key too, which the review UI words in the page's language
        named = {"label": f"{alert.level}级预警：{alert.key}", "level": alert.level, "key": alert.key}
        for kind, at in (("alert_acknowledged", alert.acknowledged_at), ("alert_closed", alert.closed_at)):
            if at is not None and at <= naive_utc(until):
                events.append((at, kind, alert.id, named))
    return [{"at": _iso(at), "kind": kind, "id": id_, **named}
            for at, kind, id_, named in sorted(events, key=lambda event: event[:3])]


def _baseline(posts: dict[str, int], since: datetime, opened: datetime, step: str) -> float:
    """Posts per bucket in the window before the incident was opened (0 without such a time)."""
    spans = (opened - since) / dashboard.STEPS[step][0]
    before = sum(count for key, count in posts.items() if key < _key(opened, step))
    return before / spans if spans >= 1 else 0.0


def _phases(keys: list[str], counts: list[int], opened: dict[str, int], baseline: float, step: str) -> list[dict]:
    phases = []
    rising = next(((key, n) for key, n in zip(keys, counts) if n >= ONSET_POSTS and n > 2 * baseline), None)
    first_alert = min(opened, default=None)
    if first_alert is not None and (rising is None or first_alert < rising[0]):
        phases.append(_phase("onset", _bucket_iso(first_alert, step), "first_alert"))
    elif rising is not None:
        against = {"code": "above_baseline", "baseline": round(baseline, 1)} if baseline else {"code": "above_nothing"}
        phases.append(_phase("onset", _bucket_iso(rising[0], step), posts=rising[1], **against))
    if not any(counts):
        return phases
    top = counts.index(max(counts))
    phases.append(_phase("peak", _bucket_iso(keys[top], step), "most_posts", posts=counts[top]))
    calm = len(counts)
    while calm > top + 1 and counts[calm - 1] * 2 < counts[top]:
        calm -= 1
    if calm < len(counts):
        phases.append(_phase("recovery", _bucket_iso(keys[calm], step), "below_half_peak", peak=counts[top]))
    return phases


def _phase(phase: str, at: str, code: str, **values) -> dict:
    return {"phase": phase, "at": at, "reason": REASONS[code].format(**values), "code": code, "values": values}


def _bucketed(times: list[datetime], step: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for at in times:
        counts[_key(at, step)] = counts.get(_key(at, step), 0) + 1
    return counts


def _key(at: datetime, step: str) -> str:
    """The index's bucket of a time (China time, as ``hour`` and ``day`` are spelled)."""
    return at.astimezone(CHINA_TZ).strftime(dashboard.STEPS[step][1])


def _bucket_iso(key: str, step: str) -> str:
    return datetime.strptime(key, dashboard.STEPS[step][1]).replace(tzinfo=CHINA_TZ).isoformat()


def _iso(value: datetime) -> str:
    return dashboard.aware(value).astimezone(CHINA_TZ).isoformat()
