"""What an incident's dashboard shows, read from the search index and the store: volume
over time by platform, sentiment and emotion over time, topic shares, the top rumor
clusters, the top posts by engagement and the counts by place. Plain data for the
template and the charts; every number comes from the same search the analysts run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.store import Store
from indexes.query import SearchQuery
from indexes.results import histogram_size, search

TOP = 10


@dataclass
class Dashboard:
    total: int
    interval: str
    buckets: list[str]  # the time axis
    volume: dict[str, list[int]]  # platform -> count per bucket
    sentiment: dict[str, list[int]]
    emotion: dict[str, list[int]]
    topics: list[tuple[str, int]]
    places: list[tuple[str, int]]
    rumor_clusters: list[dict]  # cluster, count (in the search), since (its first post's time), post (that post)
    top_posts: list[dict]


def _series(store, index, base: SearchQuery, field: str, values: list[str], buckets: list[str]) -> dict[str, list[int]]:
    """Per value of a filter, its count in each time bucket."""
    series = {}
    for value in values:
        page = search(store, index, replace(base, **{field: (value,)}, per_page=1))
        counts = dict(page.histogram)
        series[value] = [counts.get(bucket, 0) for bucket in buckets]
    return series


STEPS = {"hour": (timedelta(hours=1), "%Y-%m-%dT%H"), "day": (timedelta(days=1), "%Y-%m-%d")}


def continuous(keys: list[str], interval: str) -> list[str]:
    """Every bucket from the first key to the last: the index lists only buckets with
    posts, and a time axis that skips the empty ones draws a quiet night as no gap.

    The index counts at most ``histogram_size`` buckets (the busiest): where it may have
    left some out, or the span holds more than that, the keys are kept as they are, since
    a bucket missing then is not known to be empty."""
    size = histogram_size(interval)
    if not keys or len(keys) >= size:
        return keys
    step, form = STEPS[interval]
    at, last = datetime.strptime(keys[0], form), datetime.strptime(keys[-1], form)
    if (last - at) / step >= size:
        return keys
    filled = []
    while at <= last:
        filled.append(at.strftime(form))
        at += step
    return filled


def build(store: Store, index, text: str, since: datetime | None, until: datetime | None,
          interval: str = "hour") -> Dashboard:
    base = dict(text=text, since=since, until=until, interval=interval, sort="newest")
    overall = search(store, index, SearchQuery(**base, per_page=1))
    buckets = continuous([bucket for bucket, _ in overall.histogram], interval)
    facets = overall.facets
    query = SearchQuery(**base)
    rumors = search(store, index, SearchQuery(**base, rumor=True, per_page=1)).facets.get("cluster", [])[:TOP]
    spread = store.cluster_spread([cluster for cluster, _ in rumors])
    clusters = [{"cluster": cluster, "count": count, "since": spread[cluster][0], "post": spread[cluster][1]}
                for cluster, count in rumors if cluster in spread]
    top = search(store, index, SearchQuery(**{**base, "sort": "engagement"}, per_page=TOP))
    return Dashboard(
        total=overall.total,
        interval=interval,
        buckets=buckets,
        volume=_series(store, index, query, "platforms", [v for v, _ in facets.get("platform", [])], buckets),
        sentiment=_series(store, index, query, "sentiments", [v for v, _ in facets.get("sentiment", [])], buckets),
        emotion=_series(store, index, query, "emotions", [v for v, _ in facets.get("emotion", [])], buckets),
        topics=facets.get("topics", [])[:TOP],
        places=facets.get("places", [])[:TOP],
        rumor_clusters=clusters,
        top_posts=[hit.post for hit in top.hits],
    )
