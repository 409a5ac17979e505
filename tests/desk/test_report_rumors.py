"""A report's rumor clusters get the answers of the published releases that name them, read
from only those releases (real SQLite store, embedded index and desk tables)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.store import Store, naive_utc
from desk import dashboard
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report
from desk.states import ReleaseState
from desk.tables import Incident, Release, Version
from indexes.backends import open_index
from tests.desk.report_home import DAY, report_home

NOW = DAY + timedelta(days=1, hours=8)


def test_the_answers_are_the_published_releases_naming_each_cluster_by_the_windows_end(tmp_path):
    settings = report_home(tmp_path)
    store, index = Store(settings.database_url), open_index(settings)
    with open_sessions(store.engine, settings.home)() as session:
        first = session.get(Release, 1)
        cluster = first.rumor_clusters[0]
        # (hours after DAY it was published or None, the clusters it names); ids 2, 3, ...
        for hours, names in ((22, ["f00d", cluster]), (25, [cluster]), (None, [cluster]), (23, ["f00d"]),
                             (23, [cluster[:-1], cluster + "0"]), (23, [])):
            release = Release(incident_id=1, drafting_org_id=first.drafting_org_id, required_org_ids=[],
                              channel="wechat", state=ReleaseState.PUBLISHED if hours else ReleaseState.DRAFT,
                              published_at=naive_utc(DAY + timedelta(hours=hours)) if hours else None,
                              rumor_clusters=names, created_by=first.created_by)
            session.add(release)
            session.flush()
            session.add(Version(release_id=release.id, number=1, title=f"说明{release.id}", body="正文",
                                author_id=first.created_by))
        session.commit()

        def rumors(kind, **options):
            report = make_report(kind, store, index, session, load_clocks(), now=NOW, **options)
            return report.sections["rumors"]["clusters"]

        [daily] = rumors("daily", day=DAY.date())
        assert daily["cluster"] == cluster and daily["answers"] == [1, 2]  # not 3: published after the day
        assert daily["answered_at"] == "2024-07-24T21:00:00+08:00"
        [special] = rumors("special", incident=session.get(Incident, 1))
        assert special["answers"] == [1, 2, 3]
        # the same answers as grouping every published release, as the reports did before
        every = dashboard.answers_by_cluster(session.scalars(select(Release).where(
            Release.published_at <= naive_utc(DAY + timedelta(days=1)))))
        assert daily["answers"] == [release_id for release_id, _, _ in every[cluster]]
    store.close()


def test_a_release_names_a_cluster_in_its_json_list_on_postgresql_too(postgres_url):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from desk.database import create_tables
    from desk.reports import _answers
    from desk.tables import Organisation, User

    engine = create_engine(postgres_url)
    create_tables(engine)
    with Session(engine) as session:
        org = Organisation(name="滨海供电局", kind="enterprise", level="branch")
        session.add(org)
        session.flush()
        user = User(username="duty", display_name="duty", password_hash="x", org_id=org.id, roles=["drafter"])
        session.add(user)
        session.flush()
        session.add(Incident(title="7·24 停电", query="停电", started_at=naive_utc(DAY), created_by=user.id))
        session.flush()
        for names in (["ab12", "cd34"], ["ab1"], ["ab123"], ["cd34"]):
            session.add(Release(incident_id=1, drafting_org_id=org.id, required_org_ids=[], channel="weibo",
                                state=ReleaseState.PUBLISHED, published_at=naive_utc(DAY), rumor_clusters=names,
                                created_by=user.id))
        session.flush()
        assert {cluster: [answer[0] for answer in answers]
                for cluster, answers in _answers(session, ["ab12", "ef56"], DAY).items()} == {"ab12": [1], "cd34": [1]}
    engine.dispose()
