"""Alert rules: what each kind of rule finds in a scheme's posts at a time ``now``, read
from the index's counts (never by reading the posts into Python, nor by counting every
facet: a rule counts after every index batch); only a finding reads its evidence, a few
posts, through ``indexes.results.search``.

Each kind (``KINDS``) names its parameters with their defaults, the figure its level
thresholds measure, and its ``find``: one ``Finding`` per key that meets the rule at
``now``. A rule fires at level IV when its figure reaches its own threshold (the spike's
ratio, the share, the keyword's count) and at level III, II or I when the figure reaches
the rule's ``levels`` (by default the kind's, moved with the rule's own threshold:
``default_levels``). ``now`` is a parameter so that stored posts replay alike (a rule
counts only posts at or before it).

To add a kind, write its ``find`` and register a ``Kind``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import PostRow, PreciseTagRow, Store, TagRow, naive_utc, tag_column
from desk.clocks import Clock, load_clocks
from desk.dashboard import rumors_on_the_clock
from desk.facts import incidents_of
from desk.notices import LEVELS
from desk.tables import Release, WatchedAccount
from indexes.query import MAX_PAGE, MAX_PER_PAGE, RUMOR_THRESHOLD, SearchQuery
from indexes.results import SearchPage, search

TOP_POSTS = 5  # the evidence's most engaging posts
NEGATIVE = ("weak_negative", "anger", "anxiety")  # the sentiments a share rule counts by default
SENTIMENTS = (*NEGATIVE, "positive")  # a post's sentiments (its tags'), those a rule may count

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds of ``15m``, ``12h``, ``90s`` or ``1d``; ValueError for anything else."""
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration such as 15m, 12h or 1d")
    return int(match[1]) * _UNITS[match[2]]


@dataclass(frozen=True)
class Scope:
    """The search a scheme saves: the fields of ``SearchQuery`` it uses."""

    text: str = ""
    platforms: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    def query(self, since: datetime, until: datetime, *, text: str | None = None, **options) -> SearchQuery:
        return SearchQuery(text=self.text if text is None else text, platforms=self.platforms, places=self.places,
                           since=since, until=until, **options)

    def link(self, since: datetime, until: datetime, text: str | None = None, clusters: tuple[str, ...] = (),
             rumor_min: float | None = None) -> str:
        """The query string of the search page (``/``) that lists these posts, newest first."""
        shown = [("q", self.text if text is None else text), *(("platform", p) for p in self.platforms),
                 *(("place", p) for p in self.places), *(("cluster", c) for c in clusters),
                 ("rumor_min", "" if rumor_min is None else str(rumor_min)),
                 ("since", _china(since)), ("until", _china(until)), ("sort", "newest")]
        return urlencode([(name, value) for name, value in shown if value])


@dataclass
class Finding:
    """A key that meets a rule at ``now``, with its evidence."""

    key: str
    level: str
    count: int  # posts in the window
    baseline: float  # the count the baseline leads one to expect in the window
    post_ids: list[int]  # the most engaging posts of the window
    first_post_at: datetime | None  # the window's first post (aware UTC)
    query: str  # the search page's query string
    evidence: dict = field(default_factory=dict)  # the figures, by name


@dataclass(frozen=True)
class Kind:
    find: Callable[["Probe", dict, list[float]], list[Finding]]
    defaults: dict  # every parameter with its default (durations in seconds)
    threshold: str  # the parameter whose value is level IV's threshold of the figure
    levels: tuple[float, float, float]  # the thresholds of levels III, II and I at the default threshold
    bounded: bool = False  # the figure is a share, at most 1


def default_levels(kind: str, threshold: float) -> list[float]:
    """The thresholds of levels III, II and I for a rule whose figure fires at ``threshold``:
    the kind's, scaled by the rule's threshold over the default one, or for a share, placed
    alike between the threshold and 1 (a share of 0.6 gets 0.68, 0.8, 0.92)."""
    rule_kind = KINDS[kind]
    default = rule_kind.defaults[rule_kind.threshold]
    if rule_kind.bounded:
        return [round(threshold + (1 - threshold) * (level - default) / (1 - default), 3)
                for level in rule_kind.levels]
    return [round(level * threshold / default, 3) for level in rule_kind.levels]


@dataclass
class Probe:
    """Searches of one scheme's posts at ``now``; the desk's tables through ``session``, for
    the kinds that read the organisation's (``org_id``) watched accounts and incidents."""

    store: Store
    index: object  # an indexes.backends.IndexBackend
    scope: Scope
    now: datetime
    session: Session | None = None
    org_id: int | None = None
    clocks: list[Clock] = field(default_factory=load_clocks)

    def window(self, seconds: int) -> tuple[datetime, datetime]:
        return self.now - timedelta(seconds=seconds), self.now

    def before(self, window: int, baseline: int) -> tuple[datetime, datetime]:
        """The trailing baseline: ``baseline`` seconds up to the window's start."""
        start = self.now - timedelta(seconds=window)
        return start - timedelta(seconds=baseline), start - timedelta(microseconds=1)

    def page(self, span: tuple[datetime, datetime], **options) -> SearchPage:
        return search(self.store, self.index, self.scope.query(*span, **options))

    def count(self, span: tuple[datetime, datetime], **options) -> int:
        return self.index.count(self.scope.query(*span, **options))

    def top(self, span: tuple[datetime, datetime], text: str | None = None, **filters) -> SearchPage:
        return self.page(span, text=text, sort="engagement", per_page=TOP_POSTS, **filters)

    def first_post_at(self, span: tuple[datetime, datetime], total: int, text: str | None = None,
                      **filters) -> datetime | None:
        """The time of the first of ``total`` posts in ``span``: the last on the last page
        newest first (when the pages reach it; else None)."""
        last_page = math.ceil(total / MAX_PER_PAGE)
        if not total or last_page > MAX_PAGE:
            return None
        hits = self.page(span, text=text, sort="newest", per_page=MAX_PER_PAGE, page=last_page, **filters).hits
        if not hits:
            return None
        post = hits[-1].post
        return post["created_at"] or post["stored_at"]

    def finding(self, key: str, level: str, span, page: SearchPage, baseline: float, evidence: dict,
                text: str | None = None, **filters) -> Finding:
        """``filters``: the search's ``clusters`` and ``rumor_min``, if any."""
        return Finding(key=key, level=level, count=page.total, baseline=round(baseline, 2),
                       post_ids=[hit.post["id"] for hit in page.hits],
                       first_post_at=self.first_post_at(span, page.total, text, **filters),
                       query=self.scope.link(*span, text=text, **filters), evidence=evidence)


def level_of(figure: float, threshold: float, levels: list[float]) -> str | None:
    """The level a figure reaches: None under ``threshold``, else IV, or the highest of
    III, II, I whose threshold it reaches."""
    if figure < threshold:
        return None
    reached = [level for level, limit in zip(LEVELS[1:], levels) if figure >= limit]
    return reached[-1] if reached else LEVELS[0]


def duration_label(seconds: int) -> str:
    """``15m``, ``12h`` or ``7d``: a duration as ``parse_duration`` reads it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def key_words(kind: str, params: dict, key: str) -> str:
    """An alert's key as a notice words it: a spike's or share's window (its key, as
    ``duration_label`` writes it) in Chinese words, 15分钟 or 1分15秒; any other key as it is."""
    window = params.get("window")
    if kind not in ("spike", "share") or not window or key != duration_label(window):
        return key
    parts = [(window // size % within, unit) for size, within, unit in
             ((86400, window + 1, "天"), (3600, 24, "小时"), (60, 60, "分"), (1, 60, "秒"))]
    words = "".join(f"{n}{unit}" for n, unit in parts if n)
    return words + "钟" if words.endswith("分") else words


def find_spike(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """Posts in the window against the baseline's per-minute rate. A baseline without posts
    counts as one post, so that a first burst is a ratio, not infinite."""
    window, baseline = params["window"], params["baseline"]
    span = probe.window(window)
    total = probe.count(span)
    if total < params["min_count"]:
        return []
    before = probe.count(probe.before(window, baseline))
    expected = max(before, 1) * window / baseline
    ratio = total / expected
    level = level_of(ratio, params["ratio"], levels)
    if level is None:
        return []
    evidence = {"ratio": round(ratio, 2), "baseline_count": before, "window_s": window, "baseline_s": baseline}
    return [probe.finding(duration_label(window), level, span, probe.top(span), expected, evidence)]


def find_share(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """The share of the window's posts with a negative sentiment (the tags' sentiment)."""
    window = params["window"]
    span = probe.window(window)
    total = probe.count(span)
    if total < params["min_count"]:
        return []
    counted = tuple(sorted(set(params["sentiments"])))
    negative = probe.count(span, sentiments=counted)
    share = negative / total
    level = level_of(share, params["share"], levels)
    if level is None:
        return []
    before_span = probe.before(window, params["baseline"])
    before_total = probe.count(before_span)
    before_share = probe.count(before_span, sentiments=counted) / before_total if before_total else 0.0
    evidence = {"share": round(share, 3), "negative": negative, "baseline_share": round(before_share, 3),
                "sentiments": list(counted), "window_s": window}
    return [probe.finding(duration_label(window), level, span, probe.top(span), before_share * total, evidence)]


def find_keyword(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """Each word of the list in the window's posts: one finding per word found."""
    window, baseline = params["window"], params["baseline"]
    span = probe.window(window)
    findings = []
    for word in params["words"]:
        text = keyword_text(probe.scope, word)
        level = level_of(probe.count(span, text=text), params["min_count"], levels)
        if level is None:
            continue
        before = probe.count(probe.before(window, baseline), text=text)
        evidence = {"word": word, "baseline_count": before, "window_s": window}
        findings.append(probe.finding(word, level, span, probe.top(span, text=text), before * window / baseline,
                                      evidence, text=text))
    return findings


def keyword_text(scope: Scope, word: str) -> str:
    """The scheme's text with the word as an exact phrase."""
    return f'{scope.text} "{word}"'.strip()


def find_rumor(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """Each near-duplicate cluster of the window's rumor-like posts (``probability`` or
    more; the index's ``cluster`` facet, its most copied) that is new (none of them in the
    baseline) or grows at ``rate`` posts an hour or more: one finding per cluster."""
    window, baseline, rumor_min = params["window"], params["baseline"], params["probability"]
    span = probe.window(window)
    if probe.count(span, rumor_min=rumor_min) < params["min_count"]:
        return []  # no cluster can reach it: the facets are not counted
    findings = []
    for cluster, count in probe.page(span, rumor_min=rumor_min, per_page=1).facets["cluster"]:
        level = level_of(count, params["min_count"], levels)
        if level is None:
            continue
        filters = {"clusters": (cluster,), "rumor_min": rumor_min}
        before = probe.count(probe.before(window, baseline), **filters)
        rate = count * 3600 / window
        if before and rate < params["rate"]:
            continue
        evidence = {"cluster": cluster, "new": not before, "rate_per_h": round(rate, 1), "baseline_count": before,
                    "window_s": window}
        findings.append(probe.finding(cluster, level, span, probe.top(span, **filters), before * window / baseline,
                                      evidence, **filters))
    return findings


def find_clock(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """Each deadline (``clocks.toml``) of a rumor cluster of the organisation's incidents
    (those its users opened or that name it) that is running with no answer to meet it,
    once ``elapsed`` of its time has gone (the figure): one finding per incident, cluster
    and clock, with the cluster's posts up to now."""
    if probe.session is None:
        return []
    unscoped = replace(probe, scope=Scope())  # the incident's clusters, whatever the scheme's search
    findings = []
    for incident in incidents_of(probe.session, probe.org_id, probe.now):
        answers = probe.session.scalars(select(Release).where(Release.incident_id == incident.id))
        releases = [release for release in answers  # as at now: a later publication does not count yet
                    if release.published_at is None or release.published_at <= naive_utc(probe.now)]
        for clock, _, _ in rumors_on_the_clock(probe.store, probe.index, incident, releases, probe.clocks, probe.now):
            for deadline in clock.deadlines:
                if deadline.state != "running":
                    continue
                elapsed = (probe.now - clock.since) / (deadline.due - clock.since)
                level = level_of(elapsed, params["elapsed"], levels)
                if level is None:
                    continue
                span = (clock.since, probe.now)
                evidence = {"incident": incident.id, "cluster": clock.cluster, "clock": deadline.name,
                            "due": deadline.due.isoformat(), "remaining_s": int(deadline.remaining.total_seconds()),
                            "elapsed": round(elapsed, 3)}
                key = f"{incident.id}/{clock.cluster}/{deadline.name}"
                page = unscoped.top(span, clusters=(clock.cluster,))
                findings.append(unscoped.finding(key, level, span, page, 0.0, evidence, clusters=(clock.cluster,)))
    return findings


def find_account(probe: Probe, params: dict, levels: list[float]) -> list[Finding]:
    """Each account the organisation watches (重点账号) with posts in the window that are
    negative (``sentiments``) or rumor-like (``probability`` or more), the most engaging
    first: one finding per account. Read from the store (the index holds no authors): only
    those posts of those few accounts. The scheme's platforms apply, not its words: a
    watched account is worth a warning whatever it writes about."""
    if probe.session is None:
        return []
    window = params["window"]
    since, until = probe.window(window)
    posted = func.coalesce(PostRow.created_at, PostRow.stored_at)
    flagged = (select(WatchedAccount.platform, WatchedAccount.account_id, WatchedAccount.account_name, PostRow.id,
                      posted, TagRow.rumor_prob)
               .join(PostRow, and_(PostRow.platform == WatchedAccount.platform,
                                   PostRow.author_id == WatchedAccount.account_id))
               .join(TagRow, TagRow.post_id == PostRow.id)
               .outerjoin(PreciseTagRow, PreciseTagRow.post_id == PostRow.id)
               .where(WatchedAccount.org_id == probe.org_id, posted >= naive_utc(since), posted <= naive_utc(until),
                      or_(tag_column("sentiment").in_(params["sentiments"]),
                          TagRow.rumor_prob >= params["probability"]))
               .order_by((PostRow.reposts_count + PostRow.comments_count + PostRow.likes_count).desc(), PostRow.id))
    if probe.scope.platforms:
        flagged = flagged.where(WatchedAccount.platform.in_(probe.scope.platforms))
    by_account: dict[tuple[str, str, str], list] = {}
    for platform, account_id, name, post_id, when, rumor_prob in probe.session.execute(flagged):
        by_account.setdefault((platform, account_id, name), []).append((post_id, _aware(when), rumor_prob))
    findings = []
    for (platform, account_id, name), posts in by_account.items():
        level = level_of(len(posts), params["min_count"], levels)
        if level is None:
            continue
        evidence = {"platform": platform, "account_id": account_id, "account_name": name,
                    "rumor_like": sum(prob >= params["probability"] for *_, prob in posts), "window_s": window}
        findings.append(Finding(key=f"{platform}:{account_id}", level=level, count=len(posts), baseline=0.0,
                                post_ids=[post_id for post_id, *_ in posts[:TOP_POSTS]],
                                first_post_at=min(when for _, when, _ in posts),
                                query=Scope(platforms=(platform,)).link(since, until), evidence=evidence))
    return findings


def _aware(value: datetime | str) -> datetime:
    """A stored time as aware UTC (SQLite gives a coalesced time as text)."""
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).replace(tzinfo=timezone.utc)


# What every kind takes: the recent window, the trailing baseline it is compared with, and
# how long an alert waits for its condition to come back before a new one opens.
COMMON = {"window": 15 * 60, "baseline": 12 * 3600, "cool_down": 30 * 60}
KINDS: dict[str, Kind] = {
    "spike": Kind(find_spike, {**COMMON, "ratio": 3.0, "min_count": 20}, "ratio", (5.0, 10.0, 20.0)),
    "share": Kind(find_share, {**COMMON, "share": 0.5, "min_count": 20, "sentiments": list(NEGATIVE)},
                  "share", (0.6, 0.75, 0.9), bounded=True),
    "keyword": Kind(find_keyword, {**COMMON, "min_count": 1, "words": []}, "min_count", (5.0, 20.0, 50.0)),
    "rumor": Kind(find_rumor, {**COMMON, "min_count": 3, "rate": 20.0, "probability": RUMOR_THRESHOLD},
                  "min_count", (10.0, 30.0, 100.0)),
    "account": Kind(find_account, {"window": COMMON["window"], "cool_down": COMMON["cool_down"], "min_count": 1,
                                   "probability": RUMOR_THRESHOLD, "sentiments": list(NEGATIVE)},
                    "min_count", (3.0, 5.0, 10.0)),
    "clock": Kind(find_clock, {"cool_down": COMMON["cool_down"], "elapsed": 0.8}, "elapsed", (0.85, 0.9, 0.95),
                  bounded=True),
}


def evaluate(store: Store, index, scope: Scope, kind: str, params: dict, levels: list[float],
             now: datetime, **desk) -> list[Finding]:
    """What a rule finds at ``now`` (aware) in the posts of ``scope``; ``desk``: the
    ``Probe``'s session, org_id and clocks."""
    probe = Probe(store, index, scope, now.astimezone(timezone.utc), **desk)
    return KINDS[kind].find(probe, settings_of(kind, params), list(levels))


def settings_of(kind: str, params: dict) -> dict:
    """A rule's parameters: those it was given, the kind's defaults for the others."""
    return {**KINDS[kind].defaults, **params}


def _china(when: datetime) -> str:
    return when.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M:%S")
