"""What the desk's tests share: a release text and its fact sheet, four organisations
with their people (the ``db`` fixture of conftest.py), and ready-made releases."""

from __future__ import annotations

from datetime import datetime

from desk import outbox, releases
from desk.facts import set_fact
from desk.tables import Incident, Organisation, Release, User, Version

TITLE = "关于龙华区、美兰区停电情况的通报"
BODY = ("7月25日15时许，受强降雨影响，龙华区、美兰区部分线路故障，约1.2万户居民用电受到影响。"
        "抢修人员已全部到位，截至20时已恢复约8000户，预计今晚22时前全部恢复供电。"
        "如有疑问请拨打95598供电服务热线。")
FACTS = {"affected_areas": ["龙华区", "美兰区"], "households": "12000", "restoration_estimate": "7月25日22:00",
         "hotline": "95598", "cause": "强降雨"}
DUE = datetime(2024, 7, 25, 2, 0)  # naive UTC, as stored
GOV, GRID = "滨海市人民政府新闻办公室", "滨海供电局"
SECRETS = {"/gov": "gov-secret-0123456789abcdef", "/grid": "grid-secret-0123456789abcdef"}


def org(db, name):
    return db.orgs[name].id


def incident_with_facts(db):
    incident = releases.create_incident(db.session, db.c_draft, "7·25 海口停电", org_ids=[org(db, "grid")])
    for key, value in FACTS.items():
        set_fact(db.session, db.g_draft, incident, key, value)
    return incident


def joint_release(db, title=TITLE, body=BODY, incident=None):
    """Drafted by the city, to be signed off by the city and the grid company."""
    incident = incident or incident_with_facts(db)
    return releases.create_release(db.session, db.c_draft, incident, title, body, "website",
                                   [org(db, "grid")], joint=True)


def approved_release(db):
    release = joint_release(db)
    releases.submit(db.session, db.c_draft, release)
    releases.approve(db.session, db.c_appr, release)
    releases.approve(db.session, db.g_appr, release)
    return release


def published_release(db):
    release = approved_release(db)
    releases.schedule(db.session, db.c_pub, release)
    releases.mark_published(db.session, release)
    return release


def make_release(sessions, extra_org: str | None = None, scheduled_at: datetime = DUE) -> int:
    """A joint release of the city government and the grid company, written twice, scheduled."""
    with sessions() as session, session.begin():
        gov = Organisation(name=GOV, kind="government", level="city")
        grid = Organisation(name=GRID, kind="enterprise", level="company")
        orgs = [gov, grid] + ([Organisation(name=extra_org, kind="government", level="county")] if extra_org else [])
        session.add_all(orgs)
        session.flush()
        user = User(username="press", display_name="新闻发言人", password_hash="-", org_id=gov.id, roles=["publisher"])
        session.add(user)
        session.flush()
        incident = Incident(title="台风“海燕”停电", created_by=user.id)
        session.add(incident)
        session.flush()
        release = Release(incident_id=incident.id, drafting_org_id=gov.id, required_org_ids=[o.id for o in orgs],
                          channel="website", state="scheduled", scheduled_at=scheduled_at, created_by=user.id)
        session.add(release)
        session.flush()
        session.add_all([
            Version(release_id=release.id, number=1, title="草稿", body="初稿", author_id=user.id),
            Version(release_id=release.id, number=2, title="关于东湖区停电的通报",
                    body="受台风影响，东湖区约1.2万户停电，预计今晚22时前恢复。", author_id=user.id),
        ])
        return release.id


def enqueue(sessions, release_id, channels) -> list[str]:
    with sessions() as session, session.begin():
        return outbox.enqueue(session, session.get(Release, release_id), channels)
