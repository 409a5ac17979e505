"""Bad input gets a clear 4xx, never a 500: the inputs a fuzz campaign found, then the
project's own fuzz test over every route of the review UI.

The fuzz test reads the routes from the app's URL map and the parameter names from the
review UI's source and templates, so a new route or parameter is fuzzed without a change
here. It sends hostile values (huge, negative and other scripts' numbers, far dates, NUL,
long text, markup, emoji, lone surrogates and bad UTF-8 as percent-escapes) as anonymous
and as each role, GET and POST, with the session's real CSRF token on most POSTs.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from review_ui import create_app
from review_ui.workflow import accounts, releases as flow
from review_ui.workflow.tables import CHANNELS, FACT_KEYS, ROLES, User
from tests.conftest import REPO, crisiswatch, csrf_token, log_in

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


@pytest.mark.parametrize("action", ["approve", "schedule", "withdraw"])
def test_a_workflow_action_on_a_huge_id_is_a_404(clients, action):
    client, token = clients["admin"]
    assert client.post(f"/releases/{HUGE}/{action}", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/releases/1/deliveries/{HUGE}/retry", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/users/{HUGE}/roles", data={"csrf_token": token}).status_code == 404


def test_a_release_requiring_unicode_digits_or_huge_ids_names_only_real_organisations(app, clients):
    client, token = clients["drafter"]
    made = client.post("/incidents/1/releases", data={
        "csrf_token": token, "title": "通报", "body": "停电一万户。", "channel": "weibo", "required": ["²", HUGE, "1" * 5000]})
    assert made.status_code == 303 and "/releases/" in made.headers["Location"]  # the drafting organisation only


def test_the_search_command_says_which_date_is_out_of_range(home):
    result = crisiswatch("search", "停电", "--since", "1600-01-01", home=home, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Invalid value for '--since': 1600-01-01 is out of range: dates go from 1900-01-01 to 2199-12-31" \
        in result.stderr
    result = crisiswatch("search", "--sort", "newest", "--after", "99999999999999999999", home=home, check=False)
    assert result.returncode == 1 and "after is not a valid page cursor" in result.stderr


# -- the fuzz test ---------------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_READ = re.compile(r"""(?:args|form|values|\bf)\.(?:get|getlist)\(\s*["'](\w+)["']""")  # request.form.get("x")


def _source_names(path: Path) -> set[str]:
    return set(_READ.findall(path.read_text(encoding="utf-8")))


def _all_names() -> list[str]:
    """Every parameter the UI reads or its forms send (the search parameters included)."""
    from review_ui.params import LINK_PARAMS

    names = set(LINK_PARAMS) | {"csrf_token", "next"}
    for path in SOURCE.rglob("*.py"):
        names |= _source_names(path)
    for path in (SOURCE / "templates").glob("*.html"):
        names |= set(re.findall(r'\bname="(\w+)"', path.read_text(encoding="utf-8")))
    return sorted(names)


NAMES = _all_names()


def _routes(app) -> list[tuple[str, str, list[str]]]:
    """(rule, method, the parameter names its view's module reads) for every route."""
    import sys

    from review_ui.params import LINK_PARAMS

    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        module = sys.modules[app.view_functions[rule.endpoint].__module__]
        source = Path(module.__file__)
        names = _source_names(source) if source.is_relative_to(SOURCE) else set()
        if "query_from_args" in source.read_text(encoding="utf-8"):
            names |= set(LINK_PARAMS)  # the search page and the API read the search parameters
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method, sorted(names) or NAMES))
    return found


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
ROLE_NAMES = (*ROLES, "anonymous")


def _segment(converter: str | None, name: str) -> st.SearchStrategy[bytes]:
    """A value for a path argument: half the time an id that exists (so the views run far),
    else a hostile one. User ids are the victims', so no admin form changes the clients' users."""
    if converter == "int":
        known = [str(n).encode() for n in (range(1, VICTIMS + 1) if name == "user_id" else (1, 2))]
        return st.one_of(st.sampled_from(known), st.sampled_from(NUMBERS))
    if converter == "path":
        return st.one_of(st.sampled_from([b"style.css", b"vendor/echarts.min.js"]), VALUES)
    from review_ui.releases import ACTIONS

    return st.one_of(st.sampled_from([a.encode() for a in ACTIONS]), VALUES)


def _query(pairs) -> str:
    return "&".join(f"{quote_from_bytes(name.encode())}={quote_from_bytes(value, safe='')}" for name, value in pairs)


@st.composite
def requests(draw, routes):
    rule, method, names = draw(st.sampled_from(routes))
    path = _ARGUMENT.sub(lambda m: quote_from_bytes(draw(_segment(m["converter"], m["name"])), safe=""), rule)
    pair = st.tuples(st.sampled_from([*names, *names, *NAMES]), VALUES)  # the route's own names twice as often
    query = draw(st.lists(pair, max_size=4))
    form = draw(st.lists(pair, min_size=1, max_size=6)) if method == "POST" else []
    return (draw(st.sampled_from(ROLE_NAMES)), method, path, query, form, draw(st.booleans() | st.just(True)))


def _send(app, clients, role, method, path, query, form, with_token):
    if path == "/logout":  # a logout ends the session of the client that sends it: use a new one
        client = client_of(app, role)
        token = csrf_token(client.get("/login").get_data(as_text=True))
    else:
        client, token = clients[role]
    body = _query(([("csrf_token", token.encode())] if with_token else []) + form)
    return client.open(path, method=method, query_string=_query(query), data=body.encode(),
                       content_type="application/x-www-form-urlencoded")


def test_no_request_gets_a_server_error(app, clients):
    routes = _routes(app)

    @settings(max_examples=600, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(requests(routes))
    def fuzz(request):
        role, method, path, query, form, with_token = request
        note(f"{role}: {method} {path}?{_query(query)} form: {_query(form)[:500]} (token: {with_token})")
        response = _send(app, clients, *request)
        assert response.status_code < 500, response.get_data(as_text=True)[:2000]

    fuzz()


def test_every_route_as_every_role_with_each_hostile_path_value(app, clients):
    """Beside the random mix: each route once per role with each hostile value in every
    path argument and every parameter its module reads."""
    for rule, method, names in _routes(app):
        for role in ROLE_NAMES:
            for value in (b"1", HUGE.encode(), _encoded("²"), b"0001-01-01T00:00+14:00", b"\x00", b"\xed\xa0\x80"):
                path = _ARGUMENT.sub(lambda m: quote_from_bytes(value if m["converter"] != "path" else b"x", safe=""),
                                     rule)
                pairs = [(name, value) for name in names if name != "csrf_token"]
                response = _send(app, clients, role, method, path, pairs, pairs if method == "POST" else [], True)
                assert response.status_code < 500, (role, method, path, value)


def test_csrf_still_refuses_every_form_without_its_token(app, clients):
    client, token = clients["admin"]
    posts = [(rule, names) for rule, method, names in _routes(app) if method == "POST"]
    assert len(posts) >= 10
    for rule, _ in posts:
        path = _ARGUMENT.sub("1", rule.replace("<action>", "approve"))
        assert client.post(path, data={"title": "x"}).status_code == 400, path
        assert client.post(path, data={"title": "x", "csrf_token": token + "x"}).status_code == 400, path
