"""Two workflow actions at the same moment, on SQLite and PostgreSQL: the workflow lock
(``audit.lock``) makes the second wait for the first and decide on what it wrote.

Each test holds the first action's transaction open, starts the second in a thread,
checks that it waits, then commits the first: without the lock the second would read
the state from before the first and write over it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.store import Store
from desk import audit, releases
from desk.database import create_tables
from desk.tables import Organisation, Release, User

WAIT = 0.5  # seconds the second action is given to (wrongly) go ahead


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'workflow.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)  # the workflow's tables live in the store's database, on its engine
    create_tables(store.engine)
    yield sessionmaker(store.engine)
    store.close()


def joint_release_in_review(sessions) -> int:
    """Drafted by the city, to be approved by the city and the grid company."""
    with sessions() as session, session.begin():
        city = Organisation(name="海口市人民政府", kind="government", level="city")
        grid = Organisation(name="海南电网公司", kind="enterprise", level="company")
        session.add_all([city, grid])
        session.flush()
        for name, org, roles in (("c_draft", city, ["drafter"]), ("c_appr", city, ["approver"]),
                                 ("g_appr", grid, ["approver"])):
            session.add(User(username=name, display_name=name, password_hash="-", org_id=org.id, roles=roles,
                             active=True, failed_logins=0))
        session.flush()
        drafter = session.query(User).filter_by(username="c_draft").one()
        incident = releases.create_incident(session, drafter, "7·25 海口停电")
        release = releases.create_release(session, drafter, incident, "停电通报", "正在抢修，预计今晚恢复。",
                                          "website", [grid.id], joint=True)
        releases.submit(session, drafter, release)
        return release.id


def approve(session: Session, username: str, release_id: int) -> None:
    """What the UI's approve request does: the lock first, then the rows it decides on."""
    audit.lock(session)
    user = session.query(User).filter_by(username=username).one()
    releases.approve(session, user, session.get(Release, release_id))


def one_after_the_other(sessions, first_action, second_action) -> None:
    """Run ``first_action`` in an open transaction, start ``second_action`` (in its own
    transaction) in a thread, check that it waits, then commit the first and let the
    second finish."""
    first = sessions()
    first_action(first)
    errors: list[BaseException] = []

    def run():
        try:
            with sessions() as session, session.begin():
                second_action(session)
        except BaseException as err:  # reported by the test's thread below
            errors.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)
    assert thread.is_alive(), f"the second action did not wait for the first: {errors}"
    first.commit()
    first.close()
    thread.join(30)
    assert not errors


def test_two_organisations_approving_at_once_approve_the_release(sessions):
    release_id = joint_release_in_review(sessions)
    one_after_the_other(sessions, lambda session: approve(session, "c_appr", release_id),
                        lambda session: approve(session, "g_appr", release_id))
    with sessions() as session:
        release = session.get(Release, release_id)
        assert release.state == "approved"
        assert sorted(a.org_id for a in releases.approvals(session, release)) == sorted(release.required_org_ids)


def test_two_writers_extend_the_audit_chain_one_after_the_other(sessions):
    one_after_the_other(sessions, lambda session: audit.record(session, "system", "test.first"),
                        lambda session: audit.record(session, "system", "test.second"))
    with sessions() as session:
        assert audit.verify(session).ok and audit.verify(session).entries == 2
