"""A home for the briefings' tests: a day of posts (2024-07-24, China time) with the day
before and after it, tagged (places by the real gazetteer) and indexed by the embedded
index; an incident, a release that answers the day's rumor and an alert handled."""

from __future__ import annotations

from datetime import datetime, timedelta

import jieba

from core.schema import CHINA_TZ, Tags, make_post
from core.settings import Settings
from core.store import Store, naive_utc
from desk.database import open_sessions
from desk.states import AlertState, ReleaseState
from desk.tables import Alert, AlertRule, AlertScheme, Incident, Organisation, Release, User, Version
from indexes.backends import open_index
from indexes.indexer import index_pending
from nlp.places import gazetteer

DAY = datetime(2024, 7, 24, tzinfo=CHINA_TZ)
RUMOR = "听说城东变电站爆炸了，全城停电三天"
TEXTS = ["武汉市武昌区停电了", "海口市琼山区停电抢修中", "北京朝阳区停电，地铁照常", "停电了 <script>alert(1)</script>"]
ON_THE_DAY, DAY_BEFORE = 12, 8  # posts; three of the day's are the rumor's copies
QUERY = "停电"


def _posts() -> list[tuple[datetime, str]]:
    day = [(DAY + timedelta(hours=1 + n), TEXTS[n % len(TEXTS)] + f" 第{n}条") for n in range(ON_THE_DAY - 3)]
    rumor = [(DAY + timedelta(hours=20, minutes=n), RUMOR) for n in range(3)]
    before = [(DAY - timedelta(hours=1 + 2 * n), f"昨天停电 第{n}条") for n in range(DAY_BEFORE)]
    after = [(DAY + timedelta(days=1), "今天停电 零点"), (DAY + timedelta(days=1, hours=3), "今天停电 三点")]
    return day + rumor + before + after


def report_home(folder) -> Settings:
    settings = Settings.load(home=folder, database_url=f"sqlite:///{folder / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    store = Store(settings.database_url)
    posts = _posts()
    store.upsert_posts([make_post(platform=("weibo", "weibo", "news")[n % 3], platform_id=f"p{n}", text=text,
                                  created_at=when.isoformat(), author_id=f"a{n % 4}", author_name=f"账号{n % 4}",
                                  likes_count=n * 10, reposts_count=n)
                        for n, (when, text) in enumerate(posts)])
    stored = store.get_posts(range(1, len(posts) + 1)).values()
    store.save_tags([Tags(post["id"], 0.9 if post["text"] == RUMOR else 0.1, "anger" if post["id"] % 2 else "anxiety",
                          0.8, ["outage_report"], "report-test", emotion="anger",
                          polarity="negative" if post["id"] % 2 else "neutral",
                          places=gazetteer().find(jieba.lcut(post["text"]))[0]) for post in stored])
    assert index_pending(store, open_index(settings)) == len(posts)
    cluster = next(post["cluster"] for post in stored if post["text"] == RUMOR)
    with open_sessions(store.engine, settings.home)() as session:
        org = Organisation(name="滨海供电局", kind="enterprise", level="branch")
        session.add(org)
        session.flush()
        user = User(username="duty", display_name="duty", password_hash="x", org_id=org.id, roles=["drafter"])
        session.add(user)
        session.flush()
        incident = Incident(title="7·24 停电", query=QUERY, started_at=naive_utc(DAY + timedelta(hours=6)),
                            created_by=user.id)
        session.add(incident)
        session.flush()
        release = Release(incident_id=incident.id, drafting_org_id=org.id, required_org_ids=[org.id], channel="weibo",
                          state=ReleaseState.PUBLISHED, published_at=naive_utc(DAY + timedelta(hours=21)),
                          rumor_clusters=[cluster], created_by=user.id)
        session.add(release)
        session.flush()
        session.add(Version(release_id=release.id, number=1, title="关于城东变电站的情况说明", body="变电站运行正常。",
                            author_id=user.id))
        scheme = AlertScheme(name="停电监测", org_id=org.id, text=QUERY)
        session.add(scheme)
        session.flush()
        rule = AlertRule(scheme_id=scheme.id, kind="keyword", params={}, levels=[])
        session.add(rule)
        session.flush()
        opened = naive_utc(DAY + timedelta(hours=20, minutes=5))
        session.add(Alert(rule_id=rule.id, key="爆炸", level="III", state=AlertState.CLOSED, opened_at=opened,
                          updated_at=opened, count=3, baseline=0.0, query="q=爆炸", incident_id=incident.id,
                          acknowledged_at=opened + timedelta(minutes=10), release_id=release.id,
                          closed_at=opened + timedelta(hours=2)))
        session.commit()
    store.close()
    return settings
