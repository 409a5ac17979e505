"""Fixtures of the desk's tests: its tables on a real SQLite database."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from desk.database import create_tables
from desk.tables import Organisation, User


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    create_tables(engine)
    with Session(engine) as session:
        orgs = {
            "city": Organisation(name="海口市人民政府", kind="government", level="city"),
            "county": Organisation(name="龙华区人民政府", kind="government", level="county"),
            "grid": Organisation(name="海南电网公司", kind="enterprise", level="company"),
            "branch": Organisation(name="海口供电局", kind="enterprise", level="branch"),
        }
        session.add_all(orgs.values())
        session.flush()
        orgs["county"].parent_id, orgs["branch"].parent_id = orgs["city"].id, orgs["grid"].id
        people = {  # name: (org, roles)
            "c_draft": ("city", ["drafter"]), "c_appr": ("city", ["approver"]), "c_pub": ("city", ["publisher"]),
            "c_both": ("city", ["drafter", "approver"]), "c_analyst": ("city", ["analyst"]),
            "k_draft": ("county", ["drafter"]), "k_appr": ("county", ["approver"]),
            "g_draft": ("grid", ["drafter"]), "g_appr": ("grid", ["approver"]), "g_pub": ("grid", ["publisher"]),
            "b_appr": ("branch", ["approver"]), "admin": ("city", ["admin"]),
        }
        users = {}
        for name, (org, roles) in people.items():
            users[name] = User(username=name, display_name=name, password_hash="x", org_id=orgs[org].id,
                               roles=roles, active=True, failed_logins=0)
        session.add_all(users.values())
        session.flush()
        yield SimpleNamespace(session=session, orgs=orgs, users=users, **users)


@pytest.fixture
def sessions(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'workflow.db'}")
    create_tables(engine)
    yield sessionmaker(engine)
    engine.dispose()
