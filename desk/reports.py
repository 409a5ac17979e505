"""Briefings (舆情报告): the daily report (日报) of a China-time day, the special report
(专报) on one incident and the flash report (快报) of the last hours, as one model of
figures that every format renders (``render``: the HTML page, the PDF printed from it, Word).

Every section carries the query and window that produced it (``query``, ``filters``,
``since``, ``until``): the same search on ``crisiswatch search`` gives the same counts.
Counts come from the index's totals, facets and histograms through the one query model;
only the few posts a section shows are read from the store.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from core.schema import CHINA_TZ
from core.store import Store, naive_utc
from desk import dashboard, psr
from desk.drills import mark
from desk.alerts import may_handle
from desk.clocks import Clock, rumor_clock
from desk.states import ReleaseState
from desk.releases import current_version
from desk.report_charts import draw
from desk.report_docx import bucket_label, china_time, duration_label, filters_label, render_docx, signed_percent
from desk.spread import spread_of_cluster
from desk.tables import Alert, AlertRule, AlertScheme, Incident, Release
from desk.vocabulary import (ALERT_STATE_NAMES, CHANNEL_NAMES, CLOCK_NAMES, DEADLINE_NAMES, DRILL_STEP_NAMES,
                             EMOTION_NAMES, FACT_NAMES, INJECT_KIND_NAMES, PLATFORM_NAMES, POLARITY_NAMES, PSR_NAMES,
                             REPORT_KINDS, SENTIMENT_NAMES)
from indexes.query import SearchQuery
from indexes.results import search
from nlp.places import gazetteer
from nlp.topics import load_taxonomy

TITLES = {"daily": "舆情日报", "special": "舆情专报", "flash": "舆情快报"}
FLASH_HOURS = 2  # a flash report's window when none is given
TOP_POSTS = dashboard.TOP  # the dashboard's top posts, which the report shows
ACCOUNT_POSTS = 100  # top accounts: summed over this many of the most engaging posts
SPREADERS = 5  # key spreaders in a special report's spread section
MEDIA_TYPES = {"weibo": "社交媒体", "tieba": "社交媒体", "wechat": "自媒体", "news": "新闻媒体", "gov": "政务媒体"}
TEMPLATES = Path(__file__).with_name("report_templates")


@dataclass
class Report:
    kind: str
    title: str
    query: str
    since: datetime  # aware, China time
    until: datetime  # inclusive, as ``crisiswatch search --until`` is
    made_at: datetime
    total_posts: int
    sections: dict[str, dict]  # name -> its figures, with the query and window that produced them

    def as_dict(self) -> dict:
        return {"kind": self.kind, "title": self.title, "query": self.query, "since": _iso(self.since),
                "until": _iso(self.until), "made_at": _iso(self.made_at), "total_posts": self.total_posts,
                **self.sections}

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        """The report again from ``as_dict`` (a report kept as JSON is rendered from it)."""
        head = {"kind", "title", "query", "since", "until", "made_at", "total_posts"}
        return cls(data["kind"], data["title"], data["query"], datetime.fromisoformat(data["since"]),
                   datetime.fromisoformat(data["until"]), datetime.fromisoformat(data["made_at"]),
                   data["total_posts"], {name: value for name, value in data.items() if name not in head})


def window(kind: str, *, day: date | None = None, since: datetime | None = None, until: datetime | None = None,
           incident: Incident | None = None, now: datetime) -> tuple[datetime, datetime]:
    """The report's window in China time: a daily report's day (yesterday by default), an
    incident's from a day before it was opened (as its dashboard) to now, a flash report's
    last ``FLASH_HOURS`` unless ``since``/``until`` say otherwise."""
    now = now.astimezone(CHINA_TZ)
    if kind == "daily":
        day = day or (now - timedelta(days=1)).date()
        start = datetime.combine(day, time(), CHINA_TZ)
        return start, start + timedelta(days=1) - timedelta(microseconds=1)
    if kind == "special":
        return dashboard.incident_since(incident).astimezone(CHINA_TZ), now
    until = (until or now).astimezone(CHINA_TZ)
    return (since or until - timedelta(hours=FLASH_HOURS)).astimezone(CHINA_TZ), until


def make_report(kind: str, store: Store, index, session: Session, clocks: list[Clock], *, query: str = "",
                day: date | None = None, since: datetime | None = None, until: datetime | None = None,
                incident: Incident | None = None, now: datetime | None = None, places: Path | None = None,
                viewer=None) -> Report:
    """The figures of a report of ``kind`` (``REPORT_KINDS``) over ``query`` (all posts when
    empty; a special report takes its incident's query); ``places``: the home's own places
    file (``Settings.own_places``), which names their codes; ``viewer``: only the alerts
    that person sees (``desk.alerts.may_handle``: an organisation's schemes are its own)."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {kind!r}; use one of {', '.join(REPORT_KINDS)}")
    if (kind == "special") != (incident is not None):
        raise ValueError("a special report is made for one incident, and only it")
    now = now or datetime.now(timezone.utc)
    if incident is not None:
        query = incident.query or ""
    since, until = window(kind, day=day, since=since, until=until, incident=incident, now=now)
    base = SearchQuery(text=query, since=since, until=until, sort="newest", per_page=1)
    interval = psr.interval(since, until)
    board = dashboard.build(store, index, query, since, until, interval)
    facets = board.facets
    sections = {
        "volume": _volume(index, base, board),
        "platforms": _platforms(base, facets),
        "sentiment": _sentiment(base, facets, board),
        "hot_words": _hot_words(base, board),
        "places": _places(base, board, places),
        "top_posts": _top_posts(base, board),
        "top_accounts": _top_accounts(store, index, base),
        "rumors": _rumors(session, base, board, clocks, incident, until),
        "releases": _releases(session, incident, since, until),
        "alerts": _alerts(session, incident, since, until, viewer),
    }
    if incident is not None:
        sections["psr"] = psr.timeline(session, store, index, incident, now, user=viewer, board=board)
        sections["spread"] = _spread(store, base, board)
    sections = {"summary": _summary(kind, board.total, sections, incident), **sections}
    return Report(kind, mark(session) + TITLES[kind] + (f"：{incident.title}" if incident else ""), query, since, until,
                  now.astimezone(CHINA_TZ), board.total, sections)


def _source(query: SearchQuery, **filters) -> dict:
    """The search behind a section: its text, its filters besides the window, its window."""
    return {"query": query.text, "filters": filters, "since": _iso(query.since), "until": _iso(query.until)}


def _volume(index, base: SearchQuery, board: dashboard.Dashboard) -> dict:
    """The window's count against the previous period of the same length (环比)."""
    length = base.until - base.since
    before = replace(base, since=base.since - length - timedelta(microseconds=1),
                     until=base.since - timedelta(microseconds=1))
    previous = index.count(before)
    change = (board.total - previous) / previous if previous else None
    totals = [sum(series[n] for series in board.volume.values()) for n in range(len(board.buckets))]
    return {**_source(base), "total": board.total, "previous": {**_source(before), "total": previous},
            "change": change, "interval": board.interval, "buckets": board.buckets, "counts": totals,
            "by_platform": board.volume}


def _platforms(base: SearchQuery, facets: dict) -> dict:
    platforms = facets.get("platform", [])
    media: dict[str, int] = {}
    for platform, count in platforms:
        media[MEDIA_TYPES[platform]] = media.get(MEDIA_TYPES[platform], 0) + count
    return {**_source(base), "platforms": platforms, "media_types": sorted(media.items(), key=lambda m: -m[1]),
            "verified": facets.get("verified", [])}


def _sentiment(base: SearchQuery, facets: dict, board: dashboard.Dashboard) -> dict:
    return {**_source(base), "polarity": facets.get("polarity", []), "sentiment": facets.get("sentiment", []),
            "emotion": facets.get("emotion", []), "buckets": board.buckets,
            "sentiment_trend": board.sentiment, "emotion_trend": board.emotion}


def _hot_words(base: SearchQuery, board: dashboard.Dashboard) -> dict:
    """The topics of the outage taxonomy the posts carry (the ``topics`` facet), by their
    Chinese names: the hot words the index counts."""
    names = {topic.label: topic.zh for topic in load_taxonomy()}
    return {**_source(base), "topics": [(label, names.get(label, label), count) for label, count in board.topics]}


def _places(base: SearchQuery, board: dashboard.Dashboard, own_places: Path | None) -> dict:
    """The place facet by province and below (desk.place_map), with the places' names."""
    found = board.place_map
    names = {code: gazetteer(own_places).name(code) for code, _ in found.places}
    return {**_source(base), "provinces": found.provinces, "places": found.places, "names": names,
            "off_map": found.off_map}


def _post(post: dict) -> dict:
    return {"id": post["id"], "platform": post["platform"], "author": post.get("author_name") or "",
            "created_at": _iso(post["created_at"]), "text": post["text"][:300], "url": post.get("url") or "",
            "engagement": post["reposts_count"] + post["comments_count"] + post["likes_count"]}


def _top_posts(base: SearchQuery, board: dashboard.Dashboard) -> dict:
    """The dashboard's most engaging posts: its search is this section's."""
    top = replace(base, sort="engagement", per_page=TOP_POSTS)
    return {**_source(top, sort="engagement"), "posts": [_post(post) for post in board.top_posts]}


def _top_accounts(store, index, base: SearchQuery) -> dict:
    """Authors by the engagement of their posts among the ``ACCOUNT_POSTS`` most engaging."""
    top = replace(base, sort="engagement", per_page=ACCOUNT_POSTS)
    accounts: dict[tuple[str, str], dict] = {}
    for hit in search(store, index, top).hits:
        post = _post(hit.post)
        if not hit.post.get("author_id"):
            continue
        account = accounts.setdefault((post["platform"], hit.post["author_id"]), {
            "platform": post["platform"], "author": post["author"] or hit.post["author_id"], "posts": 0,
            "engagement": 0})
        account["posts"] += 1
        account["engagement"] += post["engagement"]
    ranked = sorted(accounts.values(), key=lambda a: (-a["engagement"], a["author"]))[:TOP_POSTS]
    return {**_source(top, sort="engagement", among=ACCOUNT_POSTS), "accounts": ranked}


def _rumors(session: Session, base: SearchQuery, board: dashboard.Dashboard, clocks: list[Clock],
            incident: Incident | None, until: datetime) -> dict:
    """The window's most copied rumor clusters, each with its clock as at the window's end
    and the published releases that answer it (an incident's clocks by its weight; others
    by the clocks for every rumor)."""
    answers = _answers(session, [cluster["cluster"] for cluster in board.rumor_clusters], until)
    found = []
    for cluster in board.rumor_clusters:
        clock = rumor_clock(cluster["cluster"], cluster["since"], answers.get(cluster["cluster"], []), until, clocks,
                            incident.major if incident else False)
        found.append({"cluster": cluster["cluster"], "count": cluster["count"], "since": _iso(cluster["since"]),
                      "post": _post(cluster["post"]), "answered_at": _iso(clock.answered_at),
                      "answers": [release_id for release_id, _, _ in answers.get(cluster["cluster"], [])],
                      "deadlines": [{"clock": d.name, "due": _iso(d.due), "state": d.state} for d in clock.deadlines]})
    return {**_source(base, rumor=True), "clusters": found}


def _answers(session: Session, clusters: list[str], until: datetime) -> dict:
    """``dashboard.answers_by_cluster`` of the releases published by ``until`` that name one
    of ``clusters``, found in SQL: a cluster id is hex, so ``"<id>"`` in the JSON list's
    text names it on SQLite and PostgreSQL alike."""
    if not clusters:
        return {}
    named = or_(*(cast(Release.rumor_clusters, String).contains(f'"{cluster}"', autoescape=True)
                  for cluster in clusters))
    return dashboard.answers_by_cluster(session.execute(
        select(Release.id, Release.published_at, Release.channel, Release.rumor_clusters)
        .where(Release.published_at <= naive_utc(until), named).order_by(Release.id)))


def _spread(store: Store, base: SearchQuery, board: dashboard.Dashboard) -> dict:
    """How the most copied rumor cluster of the window spread: the tree the page
    ``/spread/cluster/<cluster>`` draws (desk.spread, the whole stored tree), its first
    source, size, depth, breadth, growth and its top ``SPREADERS`` by reposts downstream."""
    cluster = board.rumor_clusters[0]["cluster"] if board.rumor_clusters else None
    source = _source(base, rumor=True, cluster=cluster)
    if cluster is None:
        return {**source, "cluster": None, "root": None, "posts": 0, "reposts": 0, "comments": 0, "depth": 0,
                "breadth": 0, "over_time": [], "spreaders": [], "link": None}
    tree = spread_of_cluster(store, cluster)
    kinds = Counter(node.kind for node in tree.nodes.values())
    levels = Counter(node.depth for node in tree.nodes.values())
    root = tree.first_source
    return {**source, "cluster": cluster, "root": _post(store.get_post(root.id)) if root else None,
            "posts": len(tree.nodes), "reposts": kinds["repost"], "comments": kinds["comment"],
            "depth": max(levels, default=0), "breadth": max(levels.values(), default=0),
            "over_time": [{"at": _iso(row["at"]), "posts": row["posts"], "depth": row["depth"]}
                          for row in tree.over_time()],
            "spreaders": [{"author": node.author or "", "platform": node.platform, "downstream": node.downstream}
                          for node in tree.spreaders(SPREADERS)],
            "link": f"/spread/cluster/{cluster}"}


def _releases(session: Session, incident: Incident | None, since: datetime, until: datetime) -> dict:
    """Releases published in the window (of the incident, for a special report), with the
    title of their current version."""
    chosen = select(Release).where(Release.published_at >= naive_utc(since), Release.published_at <= naive_utc(until))
    if incident is not None:
        chosen = chosen.where(Release.incident_id == incident.id)
    found = [{"id": release.id, "incident": release.incident_id, "kind": release.kind, "channel": release.channel,
              "title": current_version(session, release).title, "published_at": _iso(release.published_at),
              "answers": list(release.rumor_clusters or [])}
             for release in session.scalars(chosen.order_by(Release.published_at, Release.id))]
    return {"query": "", "filters": {"state": ReleaseState.PUBLISHED, **({"incident": incident.id} if incident else {})},
            "since": _iso(since), "until": _iso(until), "releases": found}


def _alerts(session: Session, incident: Incident | None, since: datetime, until: datetime, viewer=None) -> dict:
    """Alerts opened in the window (linked to the incident, for a special report) and how
    they were handled: acknowledged, answered, closed."""
    chosen = (select(Alert, AlertRule, AlertScheme).join(AlertRule, Alert.rule_id == AlertRule.id)
              .join(AlertScheme, AlertRule.scheme_id == AlertScheme.id)
              .where(Alert.opened_at >= naive_utc(since), Alert.opened_at <= naive_utc(until)))
    if incident is not None:
        chosen = chosen.where(Alert.incident_id == incident.id)
    found = [{"id": alert.id, "scheme": scheme.name, "kind": rule.kind, "key": alert.key, "level": alert.level,
              "state": str(alert.state), "count": alert.count, "opened_at": _iso(alert.opened_at),
              "acknowledged_at": _iso(alert.acknowledged_at), "release": alert.release_id,
              "closed_at": _iso(alert.closed_at), "query": alert.query}
             for alert, rule, scheme in session.execute(chosen.order_by(Alert.opened_at, Alert.id))
             if viewer is None or may_handle(viewer, scheme, alert)]
    return {"query": "", "filters": {"opened": True, **({"incident": incident.id} if incident else {})},
            "since": _iso(since), "until": _iso(until), "alerts": found}


def _summary(kind: str, total: int, sections: dict, incident: Incident | None) -> dict:
    """A few sentences made only from the figures (zh_CN)."""
    volume = sections["volume"]
    every_post = not volume["query"]  # no search words: the figures cover every post in the window
    sentences = [f"事件“{incident.title}”未设检索词，以下数字涵盖时段内的全部信息。"] if incident and every_post else []
    about = "" if every_post else f"与“{incident.title if incident else volume['query']}”相关的"
    sentences.append(f"本期共监测到{about}信息{total}条"
                 + (f"，较上一周期（{volume['previous']['total']}条）{_change(volume['change'])}。"
                    if volume["change"] is not None else "，上一周期无相关信息。"))
    platforms = sections["platforms"]["platforms"]
    if total and platforms:
        sentences.append("来源以" + "、".join(f"{PLATFORM_NAMES[p]}{n}条（{n / total:.1%}）" for p, n in platforms[:3])
                         + "为主。")
    negative = dict(sections["sentiment"]["polarity"]).get("negative", 0)
    if total:
        sentences.append(f"负面信息{negative}条，占{negative / total:.1%}。")
    topics = sections["hot_words"]["topics"][:3]
    if topics:
        sentences.append("热点话题为" + "、".join(f"“{name}”" for _, name, _ in topics) + "。")
    rumors = sections["rumors"]["clusters"]
    answered = sum(1 for cluster in rumors if cluster["answered_at"])
    seen = sum(sections["psr"]["pressure"]["rumor_clusters"]) if "psr" in sections else 0  # every one, not the listed
    listed = dashboard.rumors_listed(rumors)
    if not rumors:
        sentences.append("未发现疑似谣言。")
    elif seen > len(rumors):
        sentences.append(f"疑似谣言共{seen}组，其中{listed}已回应{answered}组。")
    else:
        sentences.append(f"疑似谣言{listed}，已回应{answered}组。")
    alerts = sections["alerts"]["alerts"]
    closed = sum(1 for alert in alerts if alert["closed_at"])
    sentences.append(f"发布信息{len(sections['releases']['releases'])}篇；产生预警{len(alerts)}条，已处置{closed}条。")
    return {**{k: volume[k] for k in ("query", "filters", "since", "until")}, "every_post": every_post,
            "text": "".join(sentences), "sentences": sentences}


def _change(change: float) -> str:
    if change == 0:
        return "持平"
    return f"{'上升' if change > 0 else '下降'}{abs(change):.1%}"


# each format a report is rendered in, by its media type
FORMATS = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
           "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def render(report: Report, form: str, *, china_map: Path | None = None) -> bytes:
    """The report as a file of ``form`` (one of ``FORMATS``); ``china_map`` is the folder of
    the provinces' GeoJSON that draws the places as a map (``report_charts.draw``)."""
    if form == "html":
        return render_html(report, china_map=china_map).encode("utf-8")
    if form == "pdf":
        return render_pdf(report, china_map=china_map)
    if form == "docx":
        return render_docx(report, draw(report.as_dict(), china_map=china_map))
    raise ValueError(f"unknown report format {form!r}; use one of {', '.join(FORMATS)}")


def render_pdf(report: Report, *, china_map: Path | None = None) -> bytes:
    """The HTML page printed by WeasyPrint: A4, page numbers, the fonts the page names
    (Noto CJK from fonts-noto-cjk where the Windows fonts 黑体 and 仿宋 are missing)."""
    from weasyprint import HTML  # loads Pango: only where a PDF is made

    return HTML(string=render_html(report, china_map=china_map)).write_pdf()


def render_html(report: Report, *, china_map: Path | None = None) -> str:
    """The report as a standalone, printable A4 page (post texts escaped), its charts
    inline as PNG images."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["china_time"] = china_time
    env.filters["zip"] = zip
    env.filters["bucket"] = bucket_label
    env.filters["percent"] = signed_percent
    env.filters["duration"] = duration_label
    env.filters["filters_label"] = filters_label
    data = report.as_dict()
    charts = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
              for name, png in draw(data, china_map=china_map).items()}
    return env.get_template("report.html").render(
        report=report, data=data, charts=charts, platform_names=PLATFORM_NAMES, sentiment_names=SENTIMENT_NAMES,
        emotion_names=EMOTION_NAMES, polarity_names=POLARITY_NAMES, fact_names=FACT_NAMES, psr_names=PSR_NAMES,
        channel_names=CHANNEL_NAMES, alert_state_names=ALERT_STATE_NAMES, clock_names=CLOCK_NAMES,
        deadline_names=DEADLINE_NAMES, rumors_listed=dashboard.rumors_listed, drill_step_names=DRILL_STEP_NAMES,
        inject_kind_names=INJECT_KIND_NAMES)


def _iso(value: datetime | None) -> str | None:
    """In China time; a naive value is the desk's UTC."""
    return dashboard.aware(value).astimezone(CHINA_TZ).isoformat() if value is not None else None
