"""The audit log is keyed and anchored outside the database: truncation, an edited
entry with every later hash recomputed, and entries appended without the key are all
found; an intact log verifies, and so does one made before the key existed. Real
SQLite, the real command line in a child process and the real Flask app."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete

from core.settings import Settings
from core.store import Store
from desk import audit
from desk.database import open_sessions
from desk.tables import AuditEntry
from review_ui import create_app
from tests.conftest import cli, logged_in_client


@pytest.fixture
def home(tmp_path):
    return Settings.load(home=tmp_path / "home").ensure_home()


def sessions_of(home, keyed: bool = True):
    """Workflow sessions on the home's database; ``keyed=False``: as a version before the key made them."""
    return open_sessions(Store(home.database_url).engine, home.home if keyed else None)


def add_entries(sessions, count: int) -> None:
    with sessions.begin() as session:
        for number in range(count):
            audit.record(session, "tester", "probe", f"probe:{number}", {"n": number})


def anchors(home) -> list[dict]:
    return [json.loads(line) for line in (home.home / audit.ANCHORS_FILE).read_text().splitlines()]


def database(home) -> sqlite3.Connection:
    return sqlite3.connect(home.database_url.removeprefix("sqlite:///"))


def rehash_from(home, first_id: int, key: bytes | None = None) -> None:
    """Recompute the chain from ``first_id`` on, so that it links up again: with the plain
    SHA-256 of the chain before keys (what anyone with the database can do), or a key."""
    with database(home) as db:
        prev = db.execute(f"SELECT hash FROM {AuditEntry.__tablename__} WHERE id < ? ORDER BY id DESC LIMIT 1",
                          (first_id,)).fetchone()
        prev = prev[0] if prev else audit.GENESIS
        rows = db.execute(f"SELECT id, at, actor, org_id, action, target, detail FROM {AuditEntry.__tablename__} "
                          "WHERE id >= ? ORDER BY id", (first_id,)).fetchall()
        for entry_id, at, actor, org_id, action, target, detail in rows:
            new = audit._digest(key, prev, datetime.fromisoformat(at), actor, org_id, action, target, json.loads(detail))
            db.execute(f"UPDATE {AuditEntry.__tablename__} SET prev_hash = ?, hash = ? WHERE id = ?",
                       (prev, new, entry_id))
            prev = new


def verify(sessions) -> audit.Verification:
    with sessions() as session:
        return audit.verify(session)


def test_an_intact_log_verifies_and_is_anchored_at_verify_and_export(home, tmp_path):
    add_entries(sessions_of(home), 45)
    assert stat.S_IMODE((home.home / audit.KEY_FILE).stat().st_mode) == 0o600
    verified = cli("audit", "verify", home=home)
    assert "audit log verified: 45 entries" in verified.stdout
    assert anchors(home)[-1]["entries"] == 45

    add_entries(sessions_of(home), 2)  # within the minute: not anchored at its commit
    assert anchors(home)[-1]["entries"] == 45
    out = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(out), home=home)
    last = json.loads(out.read_text(encoding="utf-8").splitlines()[-1])
    anchored = anchors(home)[-1]
    assert (anchored["entries"], anchored["last_id"], anchored["head"]) == (47, last["id"], last["hash"])


def test_deleting_the_last_entries_is_found_and_named(home):
    sessions = sessions_of(home)
    add_entries(sessions, 45)  # the first commit is anchored at once
    with database(home) as db:
        db.execute(f"DELETE FROM {AuditEntry.__tablename__} WHERE id > 40")
    cut = cli("audit", "verify", home=home, check=False)
    assert cut.exit_code == 1
    assert "entries 41-45 missing: the anchor of " in cut.stderr and "records 45 entries, the log has 40" in cut.stderr

    add_entries(sessions, 5)  # the log grows back to 45 entries: not the anchored ones
    result = verify(sessions)
    assert not result.ok and result.broken_at == 45 and "records another entry 45" in result.reason


def test_an_edited_entry_with_every_later_hash_recomputed_is_found(home):
    sessions = sessions_of(home)
    add_entries(sessions, 30)
    with database(home) as db:
        db.execute(f"UPDATE {AuditEntry.__tablename__} SET detail = ? WHERE id = 12", (json.dumps({"n": 999}),))
    rehash_from(home, 12)
    broken = cli("audit", "verify", home=home, check=False)
    assert broken.exit_code == 1
    assert "broken at entry 12: its content does not match its keyed hash (HMAC)" in broken.stderr


def test_even_with_the_key_a_rechained_edit_misses_the_anchor(home):
    sessions = sessions_of(home)
    add_entries(sessions, 30)
    with database(home) as db:
        db.execute(f"UPDATE {AuditEntry.__tablename__} SET detail = ? WHERE id = 12", (json.dumps({"n": 999}),))
    rehash_from(home, 12, key=audit.AuditFiles.load(home.home).key)  # the key stolen, the anchors not
    result = verify(sessions)
    assert not result.ok and result.broken_at == 30 and "the anchor of" in result.reason


def test_an_entry_appended_without_the_key_is_found(home):
    sessions = sessions_of(home)
    add_entries(sessions, 3)
    add_entries(sessions_of(home, keyed=False), 1)  # a process that does not know the home: or a forger
    result = verify(sessions)
    assert not result.ok and result.broken_at == 4 and "keyed hash" in result.reason


def test_a_log_made_before_the_key_stays_verifiable_and_is_pinned(home):
    add_entries(sessions_of(home, keyed=False), 5)  # as the version before keys wrote them
    sessions = sessions_of(home)  # makes the key: the 5 entries stay SHA-256, and are anchored now
    assert audit.AuditFiles.load(home.home).keyed_after == 5 and anchors(home)[-1]["entries"] == 5
    add_entries(sessions, 3)
    assert verify(sessions).ok and verify(sessions).entries == 8

    with database(home) as db:
        db.execute(f"UPDATE {AuditEntry.__tablename__} SET detail = ? WHERE id = 2", (json.dumps({"n": 999}),))
    rehash_from(home, 2)  # the old entries' own chain holds again, up to entry 5
    result = verify(sessions)
    assert not result.ok and result.broken_at == 5 and "the anchor of" in result.reason


def test_anchors_are_written_every_so_many_entries(home, monkeypatch):
    monkeypatch.setattr(audit, "ANCHOR_EVERY", 5)
    sessions = sessions_of(home)
    for _ in range(12):
        add_entries(sessions, 1)
    assert [anchor["entries"] for anchor in anchors(home)] == [1, 6, 11]


def test_entries_are_anchored_within_the_interval_without_further_commits(home, monkeypatch):
    monkeypatch.setattr(audit, "ANCHOR_INTERVAL", timedelta(seconds=2))
    sessions = sessions_of(home)
    add_entries(sessions, 1)
    add_entries(sessions, 1)  # neither ANCHOR_EVERY entries nor the interval since the last anchor
    assert [anchor["entries"] for anchor in anchors(home)] == [1]
    deadline = time.monotonic() + 15
    while len(anchors(home)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [anchor["entries"] for anchor in anchors(home)] == [1, 2]  # written by the timer


def test_a_damaged_anchors_file_is_reported(home):
    sessions = sessions_of(home)
    add_entries(sessions, 2)
    with open(home.home / audit.ANCHORS_FILE, "a", encoding="utf-8") as out:
        out.write("not an anchor\n")
    result = verify(sessions)
    assert not result.ok and "line 2 of" in result.reason and "is not an anchor" in result.reason


def test_an_anchors_file_that_cannot_be_read_is_reported_not_a_crash(home):
    app = create_app(home)
    admin = logged_in_client(app, roles=("admin",))
    (home.home / audit.ANCHORS_FILE).unlink()
    (home.home / audit.ANCHORS_FILE).mkdir()  # neither readable nor writable as a file
    page = admin.get("/admin/?lang=en")
    assert page.status_code == 200 and f"{audit.ANCHORS_FILE} cannot be read" in page.get_data(as_text=True)
    export = admin.get("/admin/audit.jsonl")
    assert export.status_code == 200 and b'"action": "audit_exported"' in export.data
    verified = cli("audit", "verify", home=home, check=False)
    assert verified.exit_code == 1 and "Traceback" not in verified.stderr
    assert f"{audit.ANCHORS_FILE} cannot be read" in verified.stderr


def test_a_lost_key_is_not_silently_replaced(home):
    """A new key made in its place verified nothing made under the old one: every such
    entry was then reported as tampered with, and the old key could not be put back."""
    sessions = sessions_of(home)
    add_entries(sessions, 3)
    key = (home.home / audit.KEY_FILE).read_bytes()
    (home.home / audit.KEY_FILE).unlink()
    with pytest.raises(ValueError, match="audit.key is missing, but .* holds anchors made with it: restore it"):
        sessions_of(home)
    told = cli("audit", "verify", home=home, check=False)
    assert told.exit_code == 1 and "Traceback" not in told.stderr and "audit.key is missing" in told.stderr
    assert not (home.home / audit.KEY_FILE).exists()
    (home.home / audit.KEY_FILE).write_bytes(key)  # restored from a backup
    assert verify(sessions_of(home)).ok


def test_the_admin_page_shows_the_latest_anchor_and_what_is_missing(home):
    app = create_app(home)
    admin = logged_in_client(app, roles=("admin",))
    page = admin.get("/admin/").get_data(as_text=True)
    entries = anchors(home)[-1]["entries"]
    assert "最近的锚点" in page and f"共 {entries} 条记录" in page and anchors(home)[-1]["head"][:16] in page
    with database(home) as db:
        db.execute(f"DELETE FROM {AuditEntry.__tablename__} WHERE id > ?", (entries - 2,))
    page = admin.get("/admin/?lang=en").get_data(as_text=True)
    assert f"Entries {entries - 1}-{entries} of the audit log are missing" in page


def test_anchor_times_are_in_china_time_whatever_the_servers_time_zone(home, monkeypatch):
    """Anchors keep naive UTC; on a server set to China time they were shown 8 hours early."""
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        app = create_app(home)
        page = logged_in_client(app, roles=("admin",)).get("/admin/").get_data(as_text=True)
        shown = datetime.fromisoformat(anchors(home)[-1]["at"]) + timedelta(hours=8)  # the page's verification's
        assert f"audit-anchors.jsonl）：{shown:%Y-%m-%d %H:%M}，" in page
        with database(home) as db:
            db.execute(f"DELETE FROM {AuditEntry.__tablename__} WHERE id > 1")
        assert f"the anchor of {shown:%Y-%m-%d %H:%M:%S} China time" in verify(sessions_of(home)).reason
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_on_postgresql_a_cut_log_is_found_too(tmp_path, postgres_url):
    home = Settings.load(home=tmp_path / "home", database_url=postgres_url).ensure_home()
    sessions = sessions_of(home)
    add_entries(sessions, 10)
    assert verify(sessions).ok
    with sessions.begin() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.id > 7))
    result = verify(sessions)
    assert not result.ok and result.missing == (8, 10) and "entries 8-10 missing" in result.reason
