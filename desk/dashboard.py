"""What an incident's dashboard shows, read from the search index and the store: volume
over time by platform, sentiment and emotion over time, topic shares, the top rumor
clusters, the top posts by engagement and the counts by place. Plain data for the
template and the charts; every number comes from the same search the analysts run.
Also the rumors on the clock of the incident's page (``rumors_on_the_clock``). An
incident's posts are those its query finds from ``LOOKBACK`` before it was opened."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from core.store import Store
from desk.clocks import Clock, RumorClock, before_and_after, rumor_clock
from desk.place_map import PlaceMap, from_page
from desk.tables import Incident, Release
from indexes.query import SearchQuery
from indexes.results import FACET_SIZES, histogram_size, search

TOP = 10
RUMORS = min(TOP, FACET_SIZES["cluster"])  # the rumor clusters listed, the most copied: maybe not all
LOOKBACK = timedelta(days=1)  # an incident's posts: from a day before it was opened
OPEN_RUMORS = 10  # the open rumor clusters on an incident's page, beside those its releases answer


def rumors_listed(clusters: list) -> str:
    """How many rumor clusters a list of ``RUMORS`` shows, in words that say when it is cut."""
    return f"传播最多的{len(clusters)}组" if len(clusters) >= RUMORS else f"{len(clusters)}组"


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
    place_map: PlaceMap  # the same search's place facet, by province and city
    facets: dict[str, list[tuple[str, int]]]  # every facet of the same search (places: all of them)


def _series(store, index, base: SearchQuery, field: str, values: list[str], buckets: list[str]) -> dict[str, list[int]]:
    """Per value of a filter, its count in each time bucket."""
    series = {}
    for value in values:
        page = search(store, index, replace(base, **{field: (value,)}, per_page=1))
        counts = dict(page.histogram)
        series[value] = [counts.get(bucket, 0) for bucket in buckets]
    return series


STEPS = {"minute": (timedelta(minutes=1), "%Y-%m-%dT%H:%M"), "hour": (timedelta(hours=1), "%Y-%m-%dT%H"),
         "day": (timedelta(days=1), "%Y-%m-%d")}
# An incident younger than this is charted by the minute: by the hour, the first hours (a
# drill or the demo plays a day in 30 minutes) would be a dot or two.
SHORT_WINDOW = timedelta(hours=6)


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
    overall = search(store, index, SearchQuery(**base, per_page=1, all_places=True))  # the map wants every place
    buckets = continuous([bucket for bucket, _ in overall.histogram], interval)
    facets = overall.facets
    query = SearchQuery(**base)
    rumors = search(store, index, SearchQuery(**base, rumor=True, per_page=1)).facets.get("cluster", [])[:RUMORS]
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
        place_map=from_page(overall),
        facets=facets,
    )


def for_incident(store: Store, index, incident: Incident, interval: str | None = None,
                 now: datetime | None = None) -> Dashboard:
    """The incident's dashboard by ``interval``; by default as ``incident_interval`` chooses."""
    interval = interval or incident_interval(incident, now or datetime.now(timezone.utc))
    return build(store, index, incident.query or "", incident_since(incident), None, interval)


def incident_interval(incident: Incident, now: datetime) -> str:
    """By the minute while the incident is younger than ``SHORT_WINDOW``, then by the hour."""
    return "minute" if aware(now) - aware(incident.started_at) < SHORT_WINDOW else "hour"


def incident_since(incident: Incident) -> datetime:
    return aware(incident.started_at) - LOOKBACK


def rumors_on_the_clock(store: Store, index, incident: Incident, releases: list[Release], clocks: list[Clock],
                        now: datetime) -> list[tuple[RumorClock, dict, tuple[int, int, timedelta] | None]]:
    """The incident's most spread open rumor clusters (``OPEN_RUMORS``) and those that
    ``releases`` answer, each with its clock, its first post and, once it has been
    answered, its volume before and after the answer (``clocks.before_and_after``)."""
    answers = answers_by_cluster(releases)
    query = SearchQuery(text=incident.query or "", rumor=True, per_page=1, since=incident_since(incident))
    open_clusters = [cluster for cluster, _ in search(store, index, query).facets.get("cluster", [])]
    wanted = list(dict.fromkeys(open_clusters[:OPEN_RUMORS] + list(answers)))
    spread = store.cluster_spread(wanted)
    now = aware(now)
    found = []
    for cluster in wanted:
        if cluster not in spread:
            continue
        first_seen, post = spread[cluster]
        clock = rumor_clock(cluster, first_seen, answers.get(cluster, []), now, clocks, incident.major)
        volume = None
        if clock.answered_at is not None:
            volume = before_and_after(store.cluster_times(cluster, clock.answered_at - timedelta(days=1)),
                                      clock.answered_at, now)
        found.append((clock, post, volume))
    return found


def answers_by_cluster(releases) -> dict[str, list[tuple[int, datetime | None, str]]]:
    """The releases that answer each rumor cluster: (id, published at, channel) of each."""
    answers: dict[str, list[tuple[int, datetime | None, str]]] = {}
    for release in releases:
        for cluster in dict.fromkeys(release.rumor_clusters or []):
            answers.setdefault(cluster, []).append((release.id, aware(release.published_at), release.channel))
    return answers


def aware(value: datetime | None) -> datetime | None:
    """The desk's times are naive UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
