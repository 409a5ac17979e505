"""Login sessions end on the server: a copy of the session cookie is refused after a
logout, after its user is disabled and after a new password, on every route; disabled
users cannot log in. Through the real Flask app (CSRF on), a real SQLite database and
the real command line."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

from werkzeug.security import generate_password_hash

from core.settings import Settings
from desk import accounts, audit
from desk.tables import LoginSession, User, WorkflowBase
from review_ui import create_app
from tests.conftest import add_user, cli, csrf_token, html, log_in, logged_in_client

OLD_RELEASE_DB = Path(__file__).parents[1] / "data" / "home-0.1.0" / "sqlite" / "crisiswatch.db"


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def refused_everywhere(client, token: str) -> None:
    """Pages send ``client`` to the login, the API answers 401 and a form changes nothing."""
    for url in ("/", "/incidents/", "/stories/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    assert client.get("/api/search?q=停电").status_code == 401
    made = client.post("/admin/organisations", data={"csrf_token": token, "name": "冒名机构", "kind": "government",
                                                     "level": "city"})
    assert made.status_code == 302 and made.headers["Location"].startswith("/login")


def org_names(app) -> set[str]:
    with app.extensions["crisiswatch"].sessions() as session:
        return {org.name for org in accounts.list_organisations(session)}


def open_sessions_of(app, username: str) -> int:
    with app.extensions["crisiswatch"].sessions() as session:
        user = accounts.find_user(session, username)
        return session.query(LoginSession).filter_by(user_id=user.id).count()


def test_a_copied_cookie_is_refused_after_logout(app):
    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    token = csrf_token(page)
    copy = copy_of(app, admin)
    assert copy.get("/incidents/").status_code == 200 and copy.get("/api/search?q=停电").status_code == 200

    assert admin.post("/logout", data={"csrf_token": token}).status_code == 303
    refused_everywhere(copy, token)
    assert "冒名机构" not in org_names(app)


def test_logging_in_as_someone_else_ends_the_session_it_replaces(app):
    """On a shared computer the next person logs in without logging out first: the
    replaced session ends, so a copy of its cookie is refused."""
    admin = logged_in_client(app, roles=("admin",))
    token = csrf_token(html(admin.get("/admin/")))
    copy = copy_of(app, admin)
    assert log_in(admin, "wang", add_user(app, "wang")).status_code == 303
    refused_everywhere(copy, token)
    assert admin.get("/incidents/").status_code == 200  # the new login's session


def test_logging_out_ends_only_that_session(app):
    password = add_user(app, "wang")
    laptop, phone = app.test_client(), app.test_client()
    assert log_in(laptop, "wang", password).status_code == 303 and log_in(phone, "wang", password).status_code == 303
    laptop.post("/logout", data={"csrf_token": csrf_token(html(laptop.get("/incidents/")))})
    assert laptop.get("/").status_code == 302 and phone.get("/incidents/").status_code == 200


def test_a_new_password_ends_every_session_of_the_user(app):
    password = add_user(app, "li")
    client = app.test_client()
    log_in(client, "li", password)
    token = csrf_token(html(client.get("/incidents/")))
    with app.extensions["crisiswatch"].sessions.begin() as session:
        accounts.set_password(session, accounts.find_user(session, "li"), "another-long-password", actor="test")
    refused_everywhere(client, token)
    assert open_sessions_of(app, "li") == 0


def test_a_login_with_the_old_password_racing_a_new_one_does_not_outlive_it(app):
    """The login checks the old password (slowly, as it should) while an admin sets a new
    one: the session it then opens would have outlived the new password."""
    password = add_user(app, "li")
    sessions = app.extensions["crisiswatch"].sessions
    with sessions.begin() as session:  # a costly hash: the check lasts about a second
        accounts.find_user(session, "li").password_hash = generate_password_hash(password, "pbkdf2:sha256:2000000")
    outcome = {}

    def log_in_with_the_old_password():
        with sessions() as session:
            try:
                user = accounts.authenticate(session, "li", password)
                outcome["token"] = accounts.start_session(session, user)
                session.commit()
            except accounts.LoginFailed:
                outcome["token"] = None

    login = threading.Thread(target=log_in_with_the_old_password)
    login.start()
    time.sleep(0.3)  # the login is checking the old password
    with sessions.begin() as session:
        accounts.set_password(session, accounts.find_user(session, "li"), "another-long-password", actor="test")
    login.join()
    with sessions() as session:
        assert accounts.session_user(session, outcome["token"]) is None


def test_a_password_set_between_the_check_and_the_session_still_ends_it(app):
    """The login used to commit after checking the password and only then open its session:
    a new password set in between ended no session, and the one opened next outlived it.
    Now the login holds the lock until its session is stored."""
    password = add_user(app, "wu")
    sessions = app.extensions["crisiswatch"].sessions

    def set_a_new_password():
        with sessions.begin() as session:
            accounts.set_password(session, accounts.find_user(session, "wu"), "another-long-password", actor="test")

    with sessions() as login:
        user = accounts.authenticate(login, "wu", password)
        change = threading.Thread(target=set_a_new_password)
        change.start()
        time.sleep(0.3)  # the new password waits for the login to finish
        token = accounts.start_session(login, user)
        login.commit()
    change.join()
    with sessions() as session:
        assert accounts.session_user(session, token) is None


def test_a_session_ends_its_lifetime_after_the_login(app):
    client = logged_in_client(app)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        opened = session.query(LoginSession).one()
        opened.created_at -= accounts.SESSION_LIFETIME + timedelta(seconds=1)
    assert client.get("/").status_code == 302
    fresh = logged_in_client(app)  # a later login deletes the expired session
    with app.extensions["crisiswatch"].sessions() as session:
        assert session.query(LoginSession).count() == 1
    assert fresh.get("/incidents/").status_code == 200


def test_an_admin_disables_and_enables_a_user_on_the_admin_page(app):
    password = add_user(app, "zhao", ["drafter"])
    user = app.test_client()
    assert log_in(user, "zhao", password).status_code == 303
    user_token = csrf_token(html(user.get("/incidents/")))
    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    with app.extensions["crisiswatch"].sessions() as session:
        zhao = accounts.find_user(session, "zhao")
    assert f'action="/admin/users/{zhao.id}/active"' in page and "停用" in page
    token = csrf_token(page)

    assert admin.post(f"/admin/users/{zhao.id}/active", data={"csrf_token": token, "active": "maybe"}).status_code == 400
    disabled = admin.post(f"/admin/users/{zhao.id}/active", data={"csrf_token": token, "active": "0"})
    assert "已停用 zhao" in html(admin.get(disabled.headers["Location"]))
    refused_everywhere(user, user_token)  # at once, the session of before included
    again = log_in(app.test_client(), "zhao", password)
    assert again.status_code == 401 and "用户名或密码错误" in html(again)  # no hint that the account exists

    enabled = admin.post(f"/admin/users/{zhao.id}/active?lang=en", data={"csrf_token": token, "active": "1"})
    assert "zhao enabled" in html(admin.get(enabled.headers["Location"]))
    assert log_in(app.test_client(), "zhao", password).status_code == 303
    with app.extensions["crisiswatch"].sessions() as session:
        actions = [(entry["action"], entry["detail"].get("username")) for entry in audit.export(session)]
    assert ("user_disabled", "zhao") in actions and ("user_enabled", "zhao") in actions


def test_the_last_admin_cannot_be_disabled(app):
    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    with app.extensions["crisiswatch"].sessions() as session:
        me = next(user for user in accounts.list_users(session) if "admin" in user.roles)
    refused = admin.post(f"/admin/users/{me.id}/active", data={"csrf_token": csrf_token(page), "active": "0"})
    assert "唯一的管理员" in html(admin.get(refused.headers["Location"]))
    assert admin.get("/admin/").status_code == 200


def test_two_admins_disabling_each_other_at_once_leave_one(app):
    """Each saw the other still active and both went through: no administrator was left."""
    add_user(app, "zhao", ("admin",))
    add_user(app, "qian", ("admin",))
    sessions = app.extensions["crisiswatch"].sessions
    refused = []

    def disable(target: str, actor: str, hold: float) -> None:
        with sessions() as session:
            try:
                accounts.set_active(session, accounts.find_user(session, target), False, actor=actor)
                time.sleep(hold)  # still uncommitted while the other admin acts
                session.commit()
            except accounts.AccountError:
                refused.append(actor)

    first = threading.Thread(target=disable, args=("qian", "zhao", 0.5))
    first.start()
    time.sleep(0.2)
    disable("zhao", "qian", 0)
    first.join()
    with sessions() as session:
        assert [user.username for user in accounts.list_users(session) if user.active] == ["zhao"]
    assert refused == ["qian"]


def test_the_command_line_disables_and_enables_a_user(tmp_path):
    home = Settings.load(home=tmp_path / "home").ensure_home()
    cli("org", "add", "海口供电局", "--kind", "enterprise", "--level", "branch", home=home)
    cli("user", "add", "lin", "--org", "海口供电局", "--role", "drafter", "--password-stdin", home=home,
        input="chosen-password-1\n")
    app = create_app(home)
    client = app.test_client()
    assert log_in(client, "lin", "chosen-password-1").status_code == 303
    token = csrf_token(html(client.get("/incidents/")))

    assert cli("user", "disable", "lin", home=home).stdout.strip() == "lin disabled"
    refused_everywhere(client, token)
    assert log_in(app.test_client(), "lin", "chosen-password-1").status_code == 401
    assert "lin\t海口供电局\tdrafter\tdisabled" in cli("user", "list", home=home).stdout
    missing = cli("user", "disable", "nobody", home=home, check=False)
    assert missing.exit_code == 1 and "no user nobody" in missing.stderr

    cli("user", "enable", "lin", home=home)
    assert log_in(app.test_client(), "lin", "chosen-password-1").status_code == 303


def test_an_old_database_gains_the_sessions_table(tmp_path):
    """A home made before login sessions were kept in the database: its users log in."""
    path = tmp_path / "crisiswatch.db"
    with sqlite3.connect(OLD_RELEASE_DB) as db:  # the desk's tables as release 0.1.0 made them
        schema = [sql for table, sql in db.execute("SELECT tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL")
                  if table in WorkflowBase.metadata.tables and table != LoginSession.__tablename__]
    with sqlite3.connect(path) as db:
        for statement in schema:
            db.execute(statement)
    with sqlite3.connect(path) as db:
        assert "login_sessions" not in {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    app = create_app(Settings.load(home=tmp_path, database_url=f"sqlite:///{path}",
                                   index_backend="embedded").ensure_home())
    assert logged_in_client(app).get("/incidents/").status_code == 200
    with sqlite3.connect(path) as db:
        assert db.execute(f"SELECT count(*) FROM {User.__tablename__}").fetchone() == (1,)


def test_a_username_with_a_nul_is_a_failed_login_on_postgresql(tmp_path, postgres_url):
    """PostgreSQL refuses NUL in text: such a username was a 500 (in the look-up, and in
    the audit entry of the failure); it is a wrong login like any other, and recorded."""
    settings = Settings.load(home=tmp_path / "home", database_url=postgres_url, index_backend="embedded").ensure_home()
    app = create_app(settings)
    add_user(app, "chen", ("analyst",))
    client = app.test_client()
    page = html(client.get("/login"))
    refused = client.post("/login", data={"csrf_token": csrf_token(page), "username": "ch\x00en",
                                          "password": "long-enough-1"})
    assert refused.status_code == 401 and "用户名或密码错误" in html(refused)
    with app.extensions["crisiswatch"].sessions() as session:
        failed = [entry for entry in audit.export(session) if entry["action"] == "login_failed"]
        assert [entry["actor"] for entry in failed] == ["ch\\x00en"] and audit.verify(session).ok
