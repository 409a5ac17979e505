"""Bad input gets a clear 4xx, never a 500: the inputs a fuzz campaign found, then the
project's own fuzz test over every route of the review UI.

The fuzz tests read the routes from the app's URL map and the parameters each route
reads from its view's code (and every name the templates' forms send), so a new route or
parameter is fuzzed without a change here. They send hostile values (huge, negative and
other scripts' numbers, far dates, NUL, long text, markup, emoji, lone surrogates and bad
UTF-8 as percent-escapes) anonymous and as each role, GET and POST, with the session's
real CSRF token (but for some random POSTs); hypothesis draws the random mix, derandomized
so that every run sends the same requests.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

from core.schema import CHINA_TZ, Tags, make_post
from core.settings import Settings
from core.store import Store
from desk import accounts, alerts, releases as flow
from desk.tables import FACT_KEYS, User
from desk.vocabulary import CHANNELS, ROLES
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from review_ui import create_app
from review_ui.params import LINK_PARAMS
from review_ui.releases import ACTIONS
from tests.conftest import REPO, cli, csrf_token, log_in

SOURCE = REPO / "review_ui"
GOV, GRID = "滨海市人民政府", "滨海供电公司"
VICTIMS = 3  # users 1-3: the admin forms may change them; the clients below log in as others
HUGE = str(2**63)  # one past the largest id


# -- the app, with posts, an incident, a joint release and a user of each role ----------


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    home = tmp_path_factory.mktemp("fuzz-home")
    settings = Settings.load(home, database_url=f"sqlite:///{home / 'crisiswatch.db'}", index_backend="embedded",
                             login_limit="100000 per minute").ensure_home()  # logins fail by the hundred
    store = Store(settings.database_url)
    store.upsert_posts([
        make_post(platform="weibo", platform_id="w1", text="全城停电了，网传要停电三天 <script>alert(1)</script>",
                  author_name="市民", created_at="2024-07-30T10:00:00", likes_count=3),
        make_post(platform="weibo", platform_id="w2", kind="comment", parent_id="w1", text="回复：我家也停电了",
                  created_at="2024-07-30T11:00:00"),
        make_post(platform="gov", platform_id="g1", title="恢复供电通报", text="抢修队已出发，预计今晚恢复供电。",
                  created_at="2024-07-31T09:00:00"),
    ])
    store.save_tags([Tags(post_id, 0.8, "anxiety", 0.7, ["outage_report"], model_version="fuzz", places=["420100"])
                     for post_id, _ in store.posts_to_tag(0, 10)])
    index_pending(store, EmbeddedIndex(settings.index_dir))
    store.close()
    app = create_app(settings)
    app.config["TESTING"] = True  # an exception in a view fails the test with its traceback
    app.passwords = {}
    with app.extensions["crisiswatch"].sessions.begin() as session:
        gov = accounts.create_organisation(session, GOV, "government", "city")
        grid = accounts.create_organisation(session, GRID, "enterprise", "branch")
        for n in range(VICTIMS):
            accounts.create_user(session, f"victim{n}", f"victim{n}", f"pw-victim-{n}-0123456789", gov, ["analyst"])
        for role in ROLES:
            app.passwords[role] = f"pw-{role}-0123456789"
            accounts.create_user(session, role, role, app.passwords[role], gov, [role])
        accounts.create_user(session, "grid", "grid", "pw-grid-0123456789", grid, ["drafter", "approver"])
        drafter = session.query(User).filter_by(username="drafter").one()
        incident = flow.create_incident(session, drafter, "7月30日滨海市停电", "停电")
        flow.create_release(session, drafter, incident, "停电情况通报", "停电一万户，预计今晚恢复供电。", "weibo",
                            [grid.id], joint=True)
        scheme = alerts.add_scheme(session, "滨海停电", gov, "停电", actor="fuzz")  # a scheme and an alert of it
        alerts.add_rule(session, scheme, "keyword", {"words": ["停电"], "window": 86400}, actor="fuzz")
        services = app.extensions["crisiswatch"]
        assert alerts.check(session, services.store, services.index, datetime(2024, 7, 30, 20, tzinfo=CHINA_TZ))
    (settings.home / "channels.toml").write_text(
        f'[[organisation]]\nname = "{GOV}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
        'folder = "out/gov"\n', encoding="utf-8")
    return app


def client_of(app, role: str):
    """A test client logged in as the user of ``role`` (anonymous: not logged in)."""
    client = app.test_client()
    if role != "anonymous":
        assert log_in(client, role, app.passwords[role]).status_code == 303
    return client


@pytest.fixture(scope="module")
def clients(app) -> dict:
    """Each role's client and its CSRF token (the login page shows the session's token)."""
    found = {}
    for role in (*ROLES, "anonymous"):
        client = client_of(app, role)
        found[role] = (client, csrf_token(client.get("/login").get_data(as_text=True)))
    return found


# -- what the fuzz campaign found ---------------------------------------------------------


@pytest.mark.parametrize("url, status, message", [
    ("/?since=1600-01-01", 400, "1600-01-01 超出可查询的日期范围（1900-01-01 至 2199-12-31）"),
    ("/?until=2300-01-01&lang=en", 400, "2300-01-01 is out of range: dates go from 1900-01-01 to 2199-12-31"),
    ("/?since=1677-09-21&sort=newest", 400, "超出可查询的日期范围"),
    ("/api/search?since=0001-01-01T00:00%2B14:00", 400, "超出可查询的日期范围"),
    ("/api/search?until=9999-12-31T23:59-14:00&lang=en", 400, "9999-12-31 is out of range"),
    ("/api/search?since=2262-04-12", 400, "超出可查询的日期范围"),
    ("/api/search?sort=newest&after=9223372036854775808", 400, "翻页位置（after）无效"),
    ("/stories/?window=²", 400, "时间窗口只能是 1 / 6 / 24 小时"),
    ("/stories/?window=%D9%A1&lang=en", 400, "The window is one of 1 / 6 / 24 hours"),  # Arabic-Indic 1
    (f"/posts/{HUGE}", 404, "找不到"),
    ("/posts/99999999999999999999/capture", 404, "找不到"),
    ("/posts/%D9%A1", 404, "找不到"),  # not post 1
    (f"/incidents/{HUGE}", 404, "找不到"),
    (f"/incidents/{HUGE}/dashboard", 404, "找不到"),
    (f"/releases/{HUGE}", 404, "找不到"),
    (f"/releases/1/diff?a={HUGE}&b=1", 404, "找不到"),
])
def test_what_the_fuzz_campaign_found_is_a_clear_4xx(app, url, status, message):
    response = client_of(app, "analyst").get(url)  # a new client: no language remembered
    assert response.status_code == status
    shown = response.get_json()["error"] if url.startswith("/api/") else response.get_data(as_text=True)
    assert message in shown


@pytest.mark.parametrize("url, field", [("/admin/organisations", "parent"), ("/admin/users", "org")])
def test_an_admin_form_naming_a_huge_id_is_a_400(clients, url, field):
    client, token = clients["admin"]
    for value in (HUGE, "²", "1" * 5000):
        form = {"csrf_token": token, "name": "新单位", "kind": "government", "level": "city", "username": "new",
                "display_name": "new", "password": "pw-new-0123456789", "roles": "analyst", field: value}
        assert client.post(url, data=form).status_code == 400


def test_a_form_sent_to_a_huge_id_is_a_404(clients):
    client, token = clients["admin"]
    for path in [f"/releases/{HUGE}/{action}" for action in ACTIONS] + [
            f"/releases/1/deliveries/{HUGE}/retry", f"/admin/users/{HUGE}/roles", f"/incidents/{HUGE}/facts"]:
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path


def test_a_release_requiring_unicode_digits_or_huge_ids_names_only_real_organisations(app, clients):
    client, token = clients["drafter"]
    made = client.post("/incidents/1/releases", data={
        "csrf_token": token, "title": "通报", "body": "停电一万户。", "channel": "weibo", "required": ["²", HUGE, "1" * 5000]})
    assert made.status_code == 303 and "/releases/" in made.headers["Location"]  # the drafting organisation only


def test_the_search_command_says_which_date_is_out_of_range(home):
    result = cli("search", "停电", "--since", "1600-01-01", home=home, check=False)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "Invalid value for '--since': 1600-01-01 is out of range: dates go from 1900-01-01 to 2199-12-31" \
        in result.stderr
    result = cli("search", "--sort", "newest", "--after", "99999999999999999999", home=home, check=False)
    assert result.exit_code == 1 and "after is not a valid page cursor" in result.stderr


# -- the fuzz tests --------------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_READ = re.compile(r"""(?:args|form|values|\bf)\.(?:get|getlist)\(\s*["'](\w+)["']""")  # request.form.get("x")


def _all_names() -> list[str]:
    """Every parameter the UI reads or its forms send (the search parameters included)."""
    names = set(LINK_PARAMS) | {"csrf_token", "next"}
    for path in SOURCE.rglob("*.py"):
        names |= set(_READ.findall(path.read_text(encoding="utf-8")))
    for path in (SOURCE / "templates").glob("*.html"):
        names |= set(re.findall(r'\bname="(\w+)"', path.read_text(encoding="utf-8")))
    return sorted(names)


NAMES = _all_names()


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    names: tuple[str, ...]  # the parameters its view reads (none outside the review UI)


def _routes(app) -> list[Route]:
    """Every route of the app, from its URL map, with each of its methods."""
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        names = tuple(sorted(_view_names(app.view_functions[rule.endpoint])))
        found += [Route(rule.rule, method, names) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _view_names(view) -> set[str]:
    """The parameters a view reads: in its own code, and in the code of its module's
    functions and tables that it uses, and theirs (``ACTIONS``, ``_form_values`` ...)."""
    path = Path(sys.modules[view.__module__].__file__)
    if not path.is_relative_to(SOURCE):
        return set()
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    definitions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    definitions |= {target.id: node for node in tree.body if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)}
    names, seen, todo = set(), set(), [view.__name__]
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        code = ast.get_source_segment(source, definitions[name])
        names |= set(_READ.findall(code))
        if "query_from_args" in code:
            names |= set(LINK_PARAMS)  # the search page and the API read the search parameters in params.py
        todo += [node.id for node in ast.walk(definitions[name]) if isinstance(node, ast.Name)]
    return names


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate as the bytes a broken client sends


NUMBERS = [  # ids, pages and counts as a hostile client writes them
    b"0", b"-1", b"1.5", b"1e309", b"nan", b"1_0", b"0x10", b" 7", HUGE.encode(), b"99999999999999999999",
    b"-9223372036854775809", b"1" * 5000, *(_encoded(t) for t in ("²", "١٢", "𝟗", "½", "〇")),
]
DATES = [
    b"0001-01-01T00:00+14:00", b"9999-12-31T23:59:59-14:00", b"1600-01-01", b"2300-01-01", b"1677-09-21",
    b"2262-04-12", b"2024-02-30", b"2024-07-30T25:00", b"2024-07-30T10:00+99:00", b"2024-07-30T10:00:00.1234567",
]
TEXTS = [
    b"", b" ", b"\x00", b"a\x00b", _encoded("停" * 20_000), b"x" * 100_000, b"<script>alert(1)</script>",
    b'"><img src=x onerror=alert(2)>', b"javascript:alert(3)", _encoded("🔥👨‍👩‍👧"), _encoded("\ud800"),
    _encoded("a\udfffb"), b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"//evil.example", b"/\\evil.example",
    b"../../secret_key", b"%00", b"%", b"&=&=", b"\r\nSet-Cookie: x=1", b'"', b"OR NOT -", b"(", b"*:*",
]
VALID = [s.encode() for s in (
    "1", "2", "3", "weibo", "gov", "newest", "engagement", "hour", "day", "yes", "no", "on", "en", "zh", "停电",
    "2024-07-30", "2024-07-30T10:00", "0.5", "likely", "anxiety", "outage_report", "420100", "government",
    "enterprise", "city", *ROLES, *CHANNELS, *FACT_KEYS, "rumor", "sentiment", "emotion", "topics", "6", "24",
)]
VALUES = st.one_of(
    st.sampled_from(NUMBERS), st.sampled_from(DATES), st.sampled_from(TEXTS), st.sampled_from(VALID),
    st.text(max_size=40).map(_encoded), st.binary(max_size=20),
)
# One of each kind, for the sweeps: an id past 64 bits, another script's digit, a date whose
# zone moves it past year 1, and NUL with a lone surrogate's bytes and markup.
KINDS = (HUGE.encode(), _encoded("²"), b"0001-01-01T00:00+14:00", b"\x00\xed\xa0\x80<script>")
ROLE_NAMES = (*ROLES, "anonymous")
EXAMPLES_PER_ROUTE = 12


def _segment(converter: str | None, name: str) -> st.SearchStrategy[bytes]:
    """A value for a path argument: half the time an id that exists (so the views run far),
    else a hostile one. User ids are the victims', so no admin form changes the clients' users."""
    if converter == "int":
        return st.one_of(st.sampled_from(_known_ids(name)), st.sampled_from(NUMBERS))
    if converter == "path":
        return st.one_of(st.sampled_from([b"style.css", b"vendor/echarts.min.js"]), VALUES)
    return st.one_of(st.sampled_from([a.encode() for a in ACTIONS]), VALUES)


def _known_ids(name: str) -> list[bytes]:
    return [str(n).encode() for n in (range(1, VICTIMS + 1) if name == "user_id" else (1, 2))]


def _query(pairs) -> str:
    return "&".join(f"{quote_from_bytes(name.encode())}={quote_from_bytes(value, safe='')}" for name, value in pairs)


def _send(app, clients, role: str, method: str, path: str, pairs, with_token: bool = True):
    """``pairs`` in the query string of a GET, in the form of a POST (with the session's
    CSRF token unless told otherwise)."""
    if path == "/logout":  # a logout ends the session of the client that sends it: use a new one
        client = client_of(app, role)
        token = csrf_token(client.get("/login").get_data(as_text=True))
    else:
        client, token = clients[role]
    if method == "GET":
        return client.get(path, query_string=_query(pairs))
    body = _query(([("csrf_token", token.encode())] if with_token else []) + list(pairs))
    return client.open(path, method=method, data=body.encode(), content_type="application/x-www-form-urlencoded")


def _path(rule: str, number: bytes, word: bytes) -> str:
    """The rule with ``number`` in each int argument and ``word`` in each other one."""
    return _ARGUMENT.sub(lambda m: quote_from_bytes(number if m["converter"] == "int" else word, safe=""), rule)


@settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def _fuzz(app, clients, route: Route, data):
    role = data.draw(st.sampled_from(ROLE_NAMES), label="role")
    path = _ARGUMENT.sub(lambda m: quote_from_bytes(data.draw(_segment(m["converter"], m["name"])), safe=""),
                         route.rule)
    # its own parameters three times in four, any other the fourth
    name = st.integers(0, 3).flatmap(lambda n: st.sampled_from(route.names if n and route.names else NAMES))
    pairs = data.draw(st.lists(st.tuples(name, VALUES), max_size=5), label="parameters")
    with_token = data.draw(st.sampled_from([True, True, True, False]), label="with CSRF token")
    note(f"{role}: {route.method} {path} {_query(pairs)[:500]}")
    response = _send(app, clients, role, route.method, path, pairs, with_token)
    assert response.status_code < 500, response.get_data(as_text=True)[:2000]


def test_no_request_gets_a_server_error(app, clients):
    """Random requests to each route: anonymous or as a role, its parameters and others,
    hostile values and valid ones mixed."""
    for route in _routes(app):
        _fuzz(app, clients, route)


def test_every_route_as_every_role_with_hostile_ids(app, clients):
    """Each route with arguments, anonymous and as each role: a huge id and another
    script's digit in every path argument."""
    for route in _routes(app):
        for kind in KINDS[:2] if "<" in route.rule else ():
            for role in ROLE_NAMES:
                path = _path(route.rule, kind, kind)
                assert _send(app, clients, role, route.method, path, []).status_code < 500, (role, route.method, path)


def test_each_parameter_alone_with_each_kind_of_hostile_value(app, clients):
    """Each route as each role with ids that exist; then every parameter it reads, one at
    a time (so that no other parameter's refusal hides what it does), with each kind of
    hostile value, sent by the roles it does not refuse, in turn."""
    actions = itertools.cycle(a.encode() for a in ACTIONS)
    for route in _routes(app):
        path = _path(route.rule, b"1", next(actions))
        allowed = []
        for role in ROLE_NAMES:
            status = _send(app, clients, role, route.method, path, []).status_code
            assert status < 500, (role, route.method, path)
            if role != "anonymous" and status != 403:
                allowed.append(role)
        roles = itertools.cycle(allowed or ROLES)
        for name in route.names:
            for value in KINDS:
                role, path = next(roles), _path(route.rule, b"1", next(actions))
                response = _send(app, clients, role, route.method, path, [(name, value)])
                assert response.status_code < 500, (role, route.method, path, name, value)


def test_csrf_still_refuses_every_form_without_its_token(app, clients):
    client, token = clients["admin"]
    posts = [route.rule for route in _routes(app) if route.method == "POST"]
    assert len(posts) >= 10
    for rule in posts:
        path = _path(rule, b"1", b"approve")
        assert client.post(path, data={"title": "x"}).status_code == 400, path
        assert client.post(path, data={"title": "x", "csrf_token": token + "x"}).status_code == 400, path
