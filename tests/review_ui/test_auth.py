"""People and permissions: logging in and out, lock-out, roles, the admin pages and the
audit log, through the real Flask app (CSRF protection on) and the real command line."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from core.settings import Settings
from desk import accounts, audit
from desk.tables import AuditEntry
from review_ui import create_app
from tests.conftest import add_user, cli, csrf_token, html, log_in, logged_in_client


def audit_actions(app) -> list[tuple[str, str]]:
    with app.extensions["crisiswatch"].sessions() as session:
        return [(entry["actor"], entry["action"]) for entry in audit.export(session)]


def users(app):
    with app.extensions["crisiswatch"].sessions() as session:
        return accounts.list_users(session)


def orgs(app):
    with app.extensions["crisiswatch"].sessions() as session:
        return accounts.list_organisations(session)


def chain_verifies(app) -> bool:
    with app.extensions["crisiswatch"].sessions() as session:
        return audit.verify(session).ok


def test_login_and_logout(app):
    password = add_user(app, "wang", ["analyst"])
    client = app.test_client()
    to_login = client.get("/?q=停电")
    assert to_login.status_code == 302 and to_login.headers["Location"].startswith("/login?next=")

    for username, wrong in (("wang", "not-the-password"), ("nobody", password)):
        failed = log_in(client, username, wrong)
        assert failed.status_code == 401 and "用户名或密码错误" in html(failed)  # the same for both: no hint
    english = app.test_client()
    token = csrf_token(html(english.get("/login?lang=en")))
    failed = english.post("/login?lang=en", data={"csrf_token": token, "username": "wang", "password": "x"})
    assert "Wrong username or password" in html(failed)

    logged_in = log_in(client, "wang", password)
    assert logged_in.status_code == 303
    page = html(client.get("/"))
    assert "wang" in page and "测试市人民政府" in page and "退出登录" in page
    assert client.get("/stories/").status_code == 200

    assert client.post("/logout").status_code == 400  # no CSRF token
    logged_out = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert logged_out.status_code == 303 and logged_out.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert [action for actor, action in audit_actions(app) if actor in ("wang", "nobody")] == [
        "login_failed", "login_failed", "login_failed", "login", "logout"]


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(app):
    password = add_user(app, "li")
    client = app.test_client()
    token = csrf_token(html(client.get("/login")))
    went = client.post("/login?next=/stories/", data={"csrf_token": token, "username": "li", "password": password})
    assert went.headers["Location"] == "/stories/"
    client = app.test_client()
    token = csrf_token(html(client.get("/login")))
    went = client.post("/login?next=//evil.example/",
                       data={"csrf_token": token, "username": "li", "password": password})
    assert went.headers["Location"] == "/"


def test_every_page_needs_a_login(app):
    client = app.test_client()
    for url in ("/", "/?q=停电", "/stories/", "/posts/1", "/posts/1/capture", "/admin/", "/admin/audit.jsonl",
                "/no/such/page"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    api = client.get("/api/search?q=停电")
    assert api.status_code == 401 and api.get_json() == {"error": "login required"}
    assert client.get("/login").status_code == 200 and client.get("/static/style.css").status_code == 200
    english = html(client.get("/login?lang=en"))
    assert "Log in" in english and "Username" in english
    assert client.post("/posts/1/corrections", data={"task": "rumor", "label": "rumor"}).status_code == 400  # CSRF


def test_the_icon_needs_no_login_and_favicon_ico_is_answered_empty(app):
    client = app.test_client()
    icon = html(client.get("/login")).split('<link rel="icon" type="image/svg+xml" href="')[1].split('"')[0]
    served = client.get(icon)
    assert served.status_code == 200 and served.mimetype == "image/svg+xml" and b"<svg" in served.data
    asked = client.get("/favicon.ico")  # browsers ask for it whatever the page names
    assert asked.status_code == 204 and asked.data == b""


def test_a_login_without_csrf_token_is_refused(app):
    password = add_user(app, "zhao")
    client = app.test_client()
    client.get("/login")
    assert client.post("/login", data={"username": "zhao", "password": password}).status_code == 400
    assert client.get("/").status_code == 302  # still logged out


def test_the_csrf_error_page_speaks_the_language_asked_for(app):
    client = logged_in_client(app)
    english = html(client.post("/logout?lang=en"))  # no CSRF token
    assert '<html lang="en">' in english and "The form has expired" in english and "刷新" not in english
    assert 'href="/logout' not in english  # the language link is a GET: not to a form's address
    client.get("/incidents/?lang=en")  # the language chosen, and remembered
    assert "The form has expired" in html(client.post("/admin/organisations", data={"name": "某局"}))
    chinese = app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert chinese.status_code == 400 and "表单已失效" in html(chinese) and "CSRF token" not in html(chinese)


def test_five_failures_lock_the_account_until_an_admin_unlocks_it(app):
    password = add_user(app, "sun")
    client = app.test_client()
    for _ in range(accounts.MAX_FAILED_LOGINS - 1):
        assert "用户名或密码错误" in html(log_in(client, "sun", "wrong-password"))
    locked = log_in(client, "sun", "wrong-password")
    assert locked.status_code == 401 and "账号已临时锁定" in html(locked) and "15 分钟" in html(locked)
    refused = log_in(client, "sun", password)  # even the right password
    assert refused.status_code == 401 and "账号已临时锁定" in html(refused)
    assert ("system", "locked") in audit_actions(app)

    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    assert "已锁定至" in page
    user_id = next(u.id for u in users(app) if u.username == "sun")
    unlocked = admin.post(f"/admin/users/{user_id}/unlock", data={"csrf_token": csrf_token(page)})
    assert unlocked.status_code == 303 and "已解锁 sun" in html(admin.get("/admin/"))
    assert log_in(client, "sun", password).status_code == 303


def test_one_address_cannot_try_passwords_on_every_account(app):
    """Below each account's lock (five failures), one address tries one account after
    another: after FAILURES_PER_ADDRESS it is refused, even the right password, while
    another address still logs in; a successful login does not count."""
    limit = int(app.config["CRISISWATCH_LOGIN_LIMIT"].split()[0])
    password = add_user(app, "zhou")
    spraying = app.test_client()
    assert log_in(spraying, "zhou", password).status_code == 303
    for n in range(limit):
        assert log_in(spraying, f"nobody-{n}", "123456").status_code == 401
    refused = log_in(spraying, "zhou", password)
    assert refused.status_code == 429 and "此地址登录失败次数过多" in html(refused) and "15 分钟" in html(refused)
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.8"
    assert log_in(elsewhere, "zhou", password).status_code == 303


def test_behind_a_trusted_proxy_each_client_address_has_its_own_count(tmp_path):
    """A proxy sends every request from its own address: with trusted_proxies the count is
    of the address in X-Forwarded-For, so one client's failures do not refuse another."""
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded", login_limit="3 per 15 minutes", trusted_proxies=1).ensure_home()
    app = create_app(settings)
    password = add_user(app, "wu")
    attacker, colleague = app.test_client(), app.test_client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.4"
    for n in range(3):
        assert log_in(attacker, f"nobody-{n}", "123456").status_code == 401
    assert log_in(attacker, "wu", password).status_code == 429
    assert log_in(colleague, "wu", password).status_code == 303
    unlimited = create_app(Settings.load(home=tmp_path, database_url=settings.database_url, login_limit="off"))
    assert {log_in(unlimited.test_client(), f"nobody-{n}", "123456").status_code for n in range(5)} == {401}
    with pytest.raises(ValueError, match="CRISISWATCH_LOGIN_LIMIT 'many' is not a limit"):
        create_app(Settings.load(home=tmp_path, database_url=settings.database_url, login_limit="many"))


def test_the_lock_ends_after_its_time(app):
    password = add_user(app, "zhou")
    start = accounts._now()
    with app.extensions["crisiswatch"].sessions() as session:
        for minute in range(accounts.MAX_FAILED_LOGINS):
            with pytest.raises(accounts.LoginFailed):
                accounts.authenticate(session, "zhou", "wrong-password", now=start + timedelta(minutes=minute))
        locked_at = start + timedelta(minutes=accounts.MAX_FAILED_LOGINS - 1)
        with pytest.raises(accounts.LoginFailed) as refused:
            almost = locked_at + accounts.LOCK_DURATION - timedelta(seconds=1)
            accounts.authenticate(session, "zhou", password, now=almost)
        assert refused.value.locked_until == locked_at + accounts.LOCK_DURATION
        user = accounts.authenticate(session, "zhou", password, now=locked_at + accounts.LOCK_DURATION)
        assert user.username == "zhou" and user.failed_logins == 0 and user.locked_until is None


def test_roles_are_checked_on_the_server(app):
    analyst = logged_in_client(app, roles=("analyst",))
    page = html(analyst.get("/"))
    assert "系统管理" not in page  # no link to the admin pages
    assert analyst.get("/admin/").status_code == 403
    assert "无权" in html(analyst.get("/admin/"))
    assert analyst.get("/admin/audit.jsonl").status_code == 403
    assert analyst.post("/admin/users", data={"csrf_token": csrf_token(page), "username": "evil", "org": "1",
                                              "password": "x" * 20, "roles": "admin"}).status_code == 403
    assert all(u.username != "evil" for u in users(app))

    drafter = logged_in_client(app, roles=("drafter",))
    token = csrf_token(html(drafter.get("/")))
    assert drafter.post("/posts/1/corrections", data={"csrf_token": token, "task": "rumor",
                                                      "label": "rumor"}).status_code == 403  # analysts only


def test_admin_creates_an_organisation_and_a_user_and_changes_roles(app):
    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    token = csrf_token(page)
    assert "哈希链校验通过" in page
    assert admin.post("/admin/organisations", data={"name": "海口供电局", "kind": "enterprise",
                                                    "level": "branch"}).status_code == 400  # no CSRF token
    made = admin.post("/admin/organisations",
                      data={"csrf_token": token, "name": "海口供电局", "kind": "enterprise", "level": "branch"})
    assert made.status_code == 303 and "已新建机构：海口供电局" in html(admin.get("/admin/"))
    wrong = admin.post("/admin/organisations", data={"csrf_token": token, "name": "某局", "kind": "enterprise",
                                                     "level": "city"})
    assert "该类型机构的层级只能是" in html(admin.get(wrong.headers["Location"]))
    org_id = next(o.id for o in orgs(app) if o.name == "海口供电局")

    short = admin.post("/admin/users", data={"csrf_token": token, "username": "chen", "org": org_id,
                                             "password": "short", "roles": ["drafter"]})
    assert "密码至少需要 10 个字符" in html(admin.get(short.headers["Location"]))
    admin.post("/admin/users", data={"csrf_token": token, "username": "chen", "display_name": "<b>陈</b>",
                                     "org": org_id, "password": "a-long-password", "roles": ["drafter", "approver"]})
    page = html(admin.get("/admin/"))
    assert "已新建用户：chen" in page and "&lt;b&gt;陈&lt;/b&gt;" in page and "<b>陈" not in page

    chen = app.test_client()
    assert log_in(chen, "chen", "a-long-password").status_code == 303
    assert "海口供电局" in html(chen.get("/"))
    user_id = next(u.id for u in users(app) if u.username == "chen")
    changed = admin.post(f"/admin/users/{user_id}/roles", data={"csrf_token": token, "roles": ["admin"]})
    assert changed.status_code == 303
    assert chen.get("/admin/").status_code == 200  # at once: roles are read on every request

    entries = [json.loads(line) for line in html(admin.get("/admin/audit.jsonl")).splitlines()]
    change = next(e for e in entries if e["action"] == "permission_change")
    assert change["detail"] == {"username": "chen", "from": ["drafter", "approver"], "to": ["admin"]}
    assert {"org_created", "user_created", "login"} <= {e["action"] for e in entries}
    assert all(e["hash"] and e["prev_hash"] for e in entries)
    assert chain_verifies(app)


def test_the_last_admin_keeps_the_admin_role(app):
    admin = logged_in_client(app, roles=("admin",))
    page = html(admin.get("/admin/"))
    me = next(u for u in users(app) if "admin" in u.roles)
    refused = admin.post(f"/admin/users/{me.id}/roles", data={"csrf_token": csrf_token(page), "roles": ["analyst"]})
    assert "唯一的管理员" in html(admin.get(refused.headers["Location"]))
    assert admin.get("/admin/").status_code == 200


def test_accounts_refuse_bad_input(app):
    with app.extensions["crisiswatch"].sessions() as session:
        org = accounts.create_organisation(session, "海口市人民政府", "government", "city")
        for bad in (dict(username="x y"), dict(roles=[]), dict(roles=["king"]), dict(password="123")):
            args = {"username": "ok", "password": "long-enough-1", "roles": ["analyst"], **bad}
            with pytest.raises(accounts.AccountError):
                accounts.create_user(session, args["username"], "", args["password"], org, args["roles"])
        with pytest.raises(accounts.AccountError, match="level"):
            accounts.create_organisation(session, "海口供电局", "enterprise", "city")
        with pytest.raises(accounts.AccountError, match="already"):
            accounts.create_organisation(session, "海口市人民政府", "government", "city")


def test_names_with_a_nul_or_past_their_limit_are_refused_not_stored_or_cut(app):
    """A NUL (which PostgreSQL refuses in text) in an organisation's or a user's name, or
    a display name over 200 characters, is refused with its reason; nothing is cut."""
    admin = logged_in_client(app, roles=("admin",))
    token = csrf_token(html(admin.get("/admin/")))
    org_id = orgs(app)[0].id
    before = {o.name for o in orgs(app)}, {u.username for u in users(app)}
    refused = admin.post("/admin/organisations", data={"csrf_token": token, "name": "某局\x00", "kind": "government",
                                                       "level": "city"})
    assert "名称不能含有空字符（NUL）" in html(admin.get(refused.headers["Location"]))
    user = {"csrf_token": token, "username": "chen", "org": org_id, "password": "a-long-password", "roles": ["analyst"]}
    for name, reason in (("陈\x00", "名称不能含有空字符（NUL）"), ("陈" * 201, "显示名称最多 200 个字（现有 201 个）")):
        refused = admin.post("/admin/users", data={**user, "display_name": name})
        assert reason in html(admin.get(refused.headers["Location"]))
    assert ({o.name for o in orgs(app)}, {u.username for u in users(app)}) == before
    refused = admin.post("/admin/users?lang=en", data={**user, "display_name": "陈" * 201})
    assert "A display name has at most 200 characters (it has 201)" in html(admin.get(refused.headers["Location"]))


def test_the_command_line_manages_people_and_verifies_the_audit_log(tmp_path):
    home = Settings.load(home=tmp_path / "home").ensure_home()
    cli("org", "add", "南方电网海南电网公司", "--kind", "enterprise", "--level", "company", home=home)
    cli("org", "add", "海口供电局", "--kind", "enterprise", "--level", "branch",
        "--parent", "南方电网海南电网公司", home=home)
    added = cli("user", "add", "lin", "--org", "海口供电局", "--role", "drafter", "--role", "approver",
                "--name", "林工", home=home).stdout
    password = added.split("password: ")[1].strip()
    assert len(password) >= accounts.MIN_PASSWORD_LENGTH
    chosen = cli("user", "add", "wu", "--org", "海口供电局", "--role", "analyst", "--password-stdin",
                 home=home, input="chosen-password-1\n").stdout
    assert "password" not in chosen
    missing = cli("user", "add", "he", "--org", "无此机构", "--role", "analyst", home=home, check=False)
    assert missing.exit_code == 1 and "no organisation called 无此机构" in missing.stderr
    cli("user", "roles", "lin", "--role", "publisher", home=home)
    listed = cli("user", "list", home=home).stdout
    assert "lin\t海口供电局\tpublisher\tactive" in listed and "wu\t海口供电局\tanalyst" in listed

    app = create_app(home)
    client = app.test_client()
    assert log_in(client, "wu", "chosen-password-1").status_code == 303
    for _ in range(accounts.MAX_FAILED_LOGINS):
        log_in(app.test_client(), "lin", "wrong-password")
    cli("user", "unlock", "lin", home=home)
    new = cli("user", "password", "lin", home=home).stdout.rsplit(": ", 1)[1].strip()
    assert log_in(app.test_client(), "lin", new).status_code == 303

    verified = cli("audit", "verify", home=home)
    assert "audit log verified" in verified.stdout
    out = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(out), home=home)
    exported = out.read_text(encoding="utf-8").splitlines()
    actions = [json.loads(line)["action"] for line in exported]
    assert {"org_created", "user_created", "permission_change", "login_failed", "locked", "unlocked",
            "password_reset", "login"} <= set(actions)

    change = next(json.loads(line) for line in exported if json.loads(line)["action"] == "permission_change")
    with sqlite3.connect(home.database_url.removeprefix("sqlite:///")) as db:  # someone edits the log by hand
        db.execute(f"UPDATE {AuditEntry.__tablename__} SET detail = ? WHERE id = ?",
                   (json.dumps({"username": "lin", "from": [], "to": ["admin"]}), change["id"]))
    broken = cli("audit", "verify", home=home, check=False)
    assert broken.exit_code == 1 and f"broken at entry {change['id']}" in broken.stderr
    with app.extensions["crisiswatch"].sessions() as session:
        assert audit.verify(session).broken_at == change["id"]
