"""A home for the PSR timeline's tests: an outage incident opened at 06:00 on 2024-07-24
(China time) whose posts rise from 07:00 to a peak at 09:00 and fall away, over a quiet
day before it; two rumors, a fact sheet that changes, a press conference, a release
answering a rumor and an alert acknowledged and closed. Tagged and indexed for real."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.schema import CHINA_TZ, Tags, make_post
from core.settings import Settings
from core.store import Store, naive_utc
from desk.database import open_sessions
from desk.states import AlertState, ReleaseState
from desk.tables import Alert, AlertRule, AlertScheme, Fact, Incident, Organisation, Release, User, Version
from indexes.backends import open_index
from indexes.indexer import index_pending

OPENED = datetime(2024, 7, 24, 6, tzinfo=CHINA_TZ)
NOW = OPENED + timedelta(days=1)
QUERY = "停电"
BEFORE = [OPENED - timedelta(hours=20), OPENED - timedelta(hours=10), OPENED - timedelta(hours=2, minutes=30),
          OPENED - timedelta(hours=2)]  # the quiet day before: 4 posts in 24 hours
RISE = {7: 3, 8: 6, 9: 10, 10: 6, 11: 4, 12: 2, 13: 1, 15: 1}  # hour of the day -> posts
RUMORS = ("听说城东变电站爆炸了，停电三天", "网传停电是因为有人偷电缆")
FIRST_RUMOR_AT = {RUMORS[0]: 8, RUMORS[1]: 10}  # the hour each rumor is first seen


def _posts() -> list[tuple[datetime, str]]:
    posts = [(at, f"昨天有点停电 第{n}条") for n, at in enumerate(BEFORE)]
    for hour, count in RISE.items():
        for n in range(count):
            text = f"城东停电了 {hour}点 第{n}条"
            if hour >= 8 and n == 0:
                text = RUMORS[0]
            elif hour >= 10 and n == 1:
                text = RUMORS[1]
            posts.append((OPENED.replace(hour=hour, minute=5 * n), text))
    return posts


def at(hour: int, minute: int = 0) -> datetime:
    return naive_utc(OPENED.replace(hour=hour, minute=minute))


def psr_home(folder) -> Settings:
    settings = Settings.load(home=folder, database_url=f"sqlite:///{folder / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    store = Store(settings.database_url)
    posts = _posts()
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{n}", text=text, created_at=when.isoformat(),
                                  author_id=f"a{n}", author_name=f"账号{n}") for n, (when, text) in enumerate(posts)])
    stored = store.get_posts(range(1, len(posts) + 1)).values()
    store.save_tags([Tags(post["id"], 0.9 if post["text"] in RUMORS else 0.1, "anger", 0.8, ["outage_report"],
                          "psr-test", emotion="anger", polarity="negative" if post["id"] % 3 else "neutral", places=[])
                     for post in stored])
    assert index_pending(store, open_index(settings)) == len(posts)
    clusters = {post["text"]: post["cluster"] for post in stored if post["text"] in RUMORS}
    with open_sessions(store.engine, settings.home)() as session:
        org = Organisation(name="城东供电局", kind="enterprise", level="branch")
        session.add(org)
        session.flush()
        user = User(username="duty", display_name="duty", password_hash="x", org_id=org.id, roles=["drafter"])
        session.add(user)
        session.flush()
        incident = Incident(title="城东停电", query=QUERY, started_at=naive_utc(OPENED), created_by=user.id)
        quiet = Incident(title="无事", query="无人提及的词", started_at=naive_utc(OPENED), created_by=user.id)
        session.add_all([incident, quiet])
        session.flush()
        for key, value, when in (("households", "12000", at(7, 30)), ("affected_areas", ["城东", "城南"], at(7, 30)),
                                 ("households", "8000", at(11, 30)), ("restoration_estimate", "今晚22时", at(12))):
            session.add(Fact(incident_id=incident.id, key=key, value=value, owner_org_id=org.id, updated_by=user.id,
                             updated_at=when))
        for channel, title, when, answers in (("press_conference", "城东停电新闻发布会", at(9, 30), []),
                                              ("weibo", "关于城东变电站的情况说明", at(10, 30), [clusters[RUMORS[0]]])):
            release = Release(incident_id=incident.id, drafting_org_id=org.id, required_org_ids=[org.id],
                              channel=channel, state=ReleaseState.PUBLISHED, published_at=when,
                              rumor_clusters=answers, created_by=user.id)
            session.add(release)
            session.flush()
            session.add(Version(release_id=release.id, number=1, title=title, body=title, author_id=user.id))
        scheme = AlertScheme(name="停电监测", org_id=org.id, text=QUERY)
        session.add(scheme)
        session.flush()
        rule = AlertRule(scheme_id=scheme.id, kind="keyword", params={}, levels=[])
        session.add(rule)
        session.flush()
        session.add(Alert(rule_id=rule.id, key="爆炸", level="III", state=AlertState.CLOSED, opened_at=at(8, 30),
                          updated_at=at(8, 30), count=3, baseline=0.0, query="q=爆炸", incident_id=incident.id,
                          acknowledged_at=at(8, 45), closed_at=at(12, 10)))
        session.commit()
    store.close()
    return settings
