"""Schema migrations: a home made by release 0.1.0 upgrades in place with nothing lost, on
SQLite and on PostgreSQL, and the migration history makes exactly what the models describe."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, select

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store, schema_lock
from desk import accounts, migrations
from desk.database import open_sessions
from tests.conftest import cli

OLD_HOME = Path(__file__).parents[1] / "data" / "home-0.1.0"


def load_old_home(database: str, home: Path, url: str) -> None:
    """The kept 0.1.0 home in ``home``: its audit key and anchors, and its database at ``url``."""
    kept = OLD_HOME / database
    home.mkdir()
    for name in ("audit.key", "audit-anchors.jsonl"):
        shutil.copy2(kept / name, home / name)
    if database == "sqlite":
        shutil.copy2(kept / "crisiswatch.db", home / "crisiswatch.db")
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute((kept / "crisiswatch.sql").read_text(encoding="utf-8"))


@pytest.fixture(params=["sqlite", "postgresql"])
def old_home(request, tmp_path, monkeypatch) -> Settings:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'crisiswatch.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    load_old_home(request.param, home, url)
    monkeypatch.setenv("CRISISWATCH_DATABASE_URL", url)
    return Settings.load(home)


def every_row(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the database, in key order, by table."""
    engine = create_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as conn:
            return {name: conn.execute(select(table).order_by(*table.primary_key.columns)).all()
                    for name, table in tables.tables.items()}
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migrations.current(conn)
    finally:
        engine.dispose()


def test_a_home_of_release_0_1_0_upgrades_with_nothing_lost(old_home):
    url = old_home.database_url
    before = every_row(url)
    assert revision(url) is None
    assert "behind: run `crisiswatch db upgrade`" in cli("db", "current", home=old_home).stdout

    upgraded = cli("db", "upgrade", home=old_home).stdout
    assert f"from no revision (made by release 0.1.0 or older) to {migrations.head()}" in upgraded
    assert "applied 0001" in upgraded and "applied 0002" in upgraded and "applied 0003" in upgraded
    assert revision(url) == migrations.head()
    after = every_row(url)
    assert {name: rows for name, rows in after.items() if name in before} == before
    assert {name: rows for name, rows in after.items() if name not in before} == {
        "alembic_version": [(migrations.head(),)], "alert_schemes": [], "alert_rules": [], "alerts": [],
        "watched_accounts": [], "sensitive_words": [], "alert_recipients": [], "quiet_hours": [],
        "alert_deliveries": [], "reports": [], "report_deliveries": [], "precise_tags": [],
            "replays": [], "replay_events": [], "inject_notices": []}
    assert {name: len(rows) for name, rows in before.items()} == {
        "posts": 5, "tags": 5, "corrections": 0, "crawl_runs": 0, "captures": 0, "cluster_bands": 48,
        "cluster_signatures": 4, "crawl_checkpoints": 0, "organisations": 2, "users": 4, "login_sessions": 1,
        "incidents": 1, "facts": 5, "incident_organisations": 1, "fact_proposals": 1, "releases": 2,
        "release_versions": 3, "approvals": 1, "release_comments": 2, "audit_log": 25, "outbox": 1,
        "workflow_lock": 1}

    store = Store(url)
    try:
        texts = {post["platform_id"]: post["text"] for post in store.get_posts(range(1, 100)).values()}
        assert texts["p5"] == "来电了！感谢抢修师傅们的辛苦付出"
        assert all(post["tags"] for post in store.get_posts(range(1, 100)).values())
        with open_sessions(store.engine, old_home.home)() as session:  # keyed, as every writer of the home
            assert accounts.authenticate(session, "gov", "gov-password-1").username == "gov"
            session.commit()  # the login and its audit entry, as the login page commits them
    finally:
        store.close()
    titles = {row.title for row in after["release_versions"]}
    assert titles == {"关于龙华区、美兰区停电情况的通报", "第二次通报（草稿）", "第二次通报"}
    verified = cli("audit", "verify", home=old_home).stdout
    assert "audit log verified: 26 entries" in verified  # the login above is an entry too

    settled = every_row(url)
    again = cli("db", "upgrade", home=old_home).stdout
    assert "already: nothing to do" in again and "applied" not in again
    assert every_row(url) == settled


def test_opening_a_store_leaves_an_older_database_alone_and_the_upgrade_brings_it_up(tmp_path):
    """A database of the first release, before the tags had emotions or places: opening a
    Store used to add the columns; now `crisiswatch db upgrade` does, and every command that
    opens the home first says that it upgrades it."""
    home = Settings.load(tmp_path / "home")
    home.home.mkdir()
    path = home.home / "crisiswatch.db"
    with sqlite3.connect(path) as db:  # the tags table as crisiswatch 0.1 made it
        db.execute("CREATE TABLE tags (post_id INTEGER PRIMARY KEY, rumor_prob FLOAT, sentiment VARCHAR(32), "
                   "sentiment_score FLOAT, topics JSON, model_version VARCHAR(200), tagged_at DATETIME)")
    Store(home.database_url).close()
    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["tags"]
        assert "emotion" not in {row[1] for row in db.execute("PRAGMA table_info(tags)")}

    status = cli("status", home=home)
    assert "upgrading the database from no revision" in status.stderr and "applied 0001" in status.stderr
    store = Store(home.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id="a", text="停电了")])
    store.save_tags([Tags(1, 0.2, "anger", 0.7, [], "old", emotion="fear", places=["420100"])])
    assert store.get_post(1)["tags"]["emotion"] == "fear"
    store.close()
    assert "already: nothing to do" in cli("db", "upgrade", home=home).stdout


def only_ours(name, type_, parent_names) -> bool:
    return type_ != "table" or name in migrations.TABLES


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_history_makes_what_the_models_describe(database, request, tmp_path):
    """A new database (its tables made from the models, the head recorded) and one made by
    running the whole history both match the models: a change of the models without a
    revision fails here."""
    urls = {"new": f"sqlite:///{tmp_path / 'new.db'}", "history": f"sqlite:///{tmp_path / 'history.db'}"}
    if database == "postgresql":
        base = request.getfixturevalue("postgres_url")
        urls = {"new": base, "history": make_database(base, "history")}
    Store(urls["new"]).close()
    engine = create_engine(urls["history"])
    with schema_lock(engine) as conn:
        command.upgrade(migrations.config(conn, say=lambda line: None), "heads")
    engine.dispose()
    for made_by, url in urls.items():
        engine = create_engine(url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": only_ours})
            assert compare_metadata(context, list(migrations.METADATA)) == [], made_by
            assert migrations.current(conn) == migrations.head()
        engine.dispose()


def make_database(url: str, name: str) -> str:
    """A second empty PostgreSQL database beside the test's own."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        own = conn.info.dbname
        conn.execute(f'DROP DATABASE IF EXISTS "{own}_{name}"')
        conn.execute(f'CREATE DATABASE "{own}_{name}"')
    return f"{url}_{name}"


def test_a_database_of_a_newer_release_is_refused_in_one_line_and_left_alone(tmp_path):
    """A home that a newer release has upgraded (its revision unknown here): every command
    says so in one line and exits 1, without a traceback, and changes nothing."""
    home = Settings.load(tmp_path / "home")
    cli("db", "upgrade", home=home)
    engine = create_engine(home.database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    before = every_row(home.database_url)

    for args in (("db", "upgrade"), ("status",)):
        result = cli(*args, home=home, check=False)
        assert result.exit_code == 1, args
        assert "9999" in result.stderr and "newer release" in result.stderr, args
    current = cli("db", "current", home=home).stdout
    assert "9999" in current and "newer release" in current and "db upgrade" not in current
    assert every_row(home.database_url) == before


def test_a_table_lost_from_a_database_at_the_head_is_made_again(tmp_path):
    """Dropped by hand or lost in a partial restore: every command used to fail on it with
    a raw OperationalError, since the recorded revision said there was nothing to do."""
    home = Settings.load(tmp_path / "home")
    cli("db", "upgrade", home=home)
    with sqlite3.connect(home.home / "crisiswatch.db") as db:
        db.execute("DROP TABLE captures")
        db.execute("DROP TABLE release_comments")
    status = cli("status", home=home)
    assert "created the missing tables captures, release_comments" in status.stderr
    with sqlite3.connect(home.home / "crisiswatch.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"captures", "release_comments"} <= tables
    assert "already: nothing to do" in cli("db", "upgrade", home=home).stdout
    with sqlite3.connect(home.home / "crisiswatch.db") as db:
        db.execute("DROP TABLE captures")
    said = cli("db", "upgrade", home=home).stdout  # by hand: it says what it made, not that it did nothing
    assert "created the missing tables captures" in said and "nothing to do" not in said
