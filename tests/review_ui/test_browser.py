"""The release workflow in a real browser: headless Chromium (Debian's package) driven by
Playwright against the real app served on loopback.

A drafter of the grid company writes a joint release, the fact check flags a wrong
household count, the drafter fixes it, a city-government approver and an enterprise
approver approve, the release is scheduled and published to a webhook receiver on
loopback, and the audit chain verifies. Posts holding markup show as text on every page
(no dialog fires, no injected element exists). Screenshots of the key pages go to
the test's tmp folder, and with CRISISWATCH_SCREENSHOTS=1 (``make screenshots``) to
docs/screenshots/, which the README shows.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import shutil
import subprocess
import threading
import warnings
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jieba
import pytest

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from crisiswatch.publishing import publish_due
from desk import accounts, alerts, audit
from indexes.backends import open_index
from indexes.indexer import index_pending
from nlp.places import gazetteer
from review_ui import create_app
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
ECHARTS = REPO / "review_ui" / "static" / "vendor" / "echarts.min.js"
CHINA_MAP = REPO / "review_ui" / "static" / "vendor" / "china-map" / "100000.json"
VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

CITY, GRID = "海口市人民政府", "海口供电局"
SECRETS = {CITY: "city-secret-0123456789abcdef", GRID: "grid-secret-0123456789abcdef"}
HOOK_PATHS = {CITY: "/hooks/city", GRID: "/hooks/grid"}
PAYLOADS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "<iframe src=javascript:alert(3)>",
            "<svg onload=alert(4)>"]
RUMOR = "【紧急通知】今晚8点起琼山区停电三天，请大家提前储水，转发扩散！"
TITLE = "关于琼山区停电的情况通报"
WRONG = "7月25日琼山区因线路故障停电，影响15000户，预计7月26日18:00前恢复供电。咨询电话95598。"
RIGHT = WRONG.replace("15000户", "12000户")
PASSWORDS: dict[str, str] = {}


def _playwright():
    """The Playwright driver, or a skip (a failure under CI, where .ci/run installs both)."""
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing = "the playwright package is not installed (pip install playwright)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests need it under CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


# -- the pieces: a home with posts, accounts and channels; a webhook receiver; the app -----


def _posts(now):
    posts = [make_post(platform=platform, platform_id=f"xss{n}" + ("" if platform == "weibo" else "-copy"),
                       text=f"停电谣言 {payload}", author_name="匿名网友", created_at=now - timedelta(hours=3, minutes=n))
             for n, payload in enumerate(PAYLOADS) for platform in ("weibo", "wechat")]  # copies: rumor clusters
    posts += [make_post(platform="weibo", platform_id=f"rumor{n}", text=RUMOR + "!" * n,
                        author_name=f"网友{n}", created_at=now - timedelta(hours=2, minutes=10 * n), reposts_count=n)
              for n in range(4)]
    posts += [make_post(platform="wechat", platform_id="w1", text="琼山区停电了，家里好热，什么时候来电？",
                        created_at=now - timedelta(hours=1)),
              make_post(platform="gov", platform_id="g1", title="海口供电局抢修通报",
                        text="海口供电局：琼山区停电抢修正在进行，咨询电话95598。", author_verified=True,
                        created_at=now - timedelta(minutes=30))]
    return posts


def _tags(post):
    text = post["text"]
    if "谣言" in text or "紧急通知" in text:
        return Tags(post["id"], 0.93, "anxiety", 0.8, ["outage_report", "rumor_rebuttal"], "browser-test",
                    emotion="fear", places=["460100", "460107"])
    if "抢修" in text:
        return Tags(post["id"], 0.05, "positive", 0.9, ["restoration"], "browser-test", emotion="gratitude",
                    places=["460100"])
    return Tags(post["id"], 0.2, "anger", 0.7, ["outage_report"], "browser-test", emotion="anger", places=["460107"])


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: records each POST and whether its signature is right."""

    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        org = next((name for name, path in HOOK_PATHS.items() if path == self.path), None)
        expected = "sha256=" + hmac.new(SECRETS.get(org, "").encode(), body, hashlib.sha256).hexdigest()
        signed = org is not None and hmac.compare_digest(expected, self.headers.get("X-Crisiswatch-Signature", ""))
        self.received.append({"org": org, "body": body, "signed": signed,
                              "content_type": self.headers.get("Content-Type", "")})
        self.send_response(200 if signed else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def site(tmp_path):
    """The real app on loopback, with its home, accounts, channels and webhook receiver."""
    sync_playwright = _playwright()
    settings = Settings.load(tmp_path / "home").ensure_home()
    store = Store(settings.database_url)
    now = datetime.now(timezone.utc)  # aware: naive times are read as China time
    store.upsert_posts(_posts(now))
    stored = store.get_posts(range(1, 100)).values()
    store.save_tags([_tags(post) for post in stored])
    assert index_pending(store, open_index(settings)) == len(stored)
    post_ids = {post["platform_id"]: post["id"] for post in stored}
    store.close()

    receiver = ThreadingHTTPServer(("127.0.0.1", free_port()), type("Hook", (Receiver,), {"received": []}))
    _serve(receiver)
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"
    channels = "".join(
        f'[[organisation]]\nname = "{org}"\n[[organisation.channel]]\nname = "press-room"\nkind = "webhook"\n'
        f'url = "{hook}{HOOK_PATHS[org]}"\nsecret = "{SECRETS[org]}"\n' for org in (CITY, GRID))
    settings.channels_file.write_text(channels, encoding="utf-8")
    settings.channels_file.chmod(0o600)

    app = create_app(settings)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        city = accounts.create_organisation(session, CITY, "government", "city")
        grid = accounts.create_organisation(session, GRID, "enterprise", "branch")
        for name, org, roles in (("grid_drafter", grid, ["drafter", "analyst"]), ("grid_approver", grid, ["approver"]),
                                 ("grid_publisher", grid, ["publisher"]), ("city_approver", city, ["approver"]),
                                 ("city_admin", city, ["admin", "analyst"])):
            PASSWORDS[name] = f"pw-{name}-0123456789"
            accounts.create_user(session, name, name, PASSWORDS[name], org, roles)

    from werkzeug.serving import make_server

    quiet = logging.getLogger("werkzeug")
    level, quiet.level = quiet.level, logging.WARNING  # no line per request

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    _serve(server)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield Site(app, settings, f"http://127.0.0.1:{server.server_port}", browser, receiver.RequestHandlerClass,
                   post_ids, shots)
        browser.close()
    server.shutdown()
    receiver.shutdown()
    server.server_close()
    receiver.server_close()
    quiet.setLevel(level)


class Site:
    def __init__(self, app, settings, url, browser, receiver, post_ids, shots):
        self.app, self.settings, self.url, self.browser = app, settings, url, browser
        self.receiver, self.post_ids, self.shots = receiver, post_ids, shots
        self.dialogs: list[str] = []

    def page(self, viewport=VIEWPORT):
        """A fresh browser context (its own cookies) with one page; any dialog is recorded
        (and dismissed), and the tests fail on it."""
        context = self.browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("dialog", lambda dialog: (self.dialogs.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))
        return page

    def log_in(self, username: str, screenshot: bool = False, viewport=VIEWPORT):
        page = self.page(viewport)
        page.goto(f"{self.url}/incidents/")  # the login page, sent back here afterwards
        assert "/login" in page.url
        page.fill("section.login input[name=username]", username)
        page.fill("section.login input[name=password]", PASSWORDS[username])
        if screenshot:
            self.screenshot(page, "login.png")
        with page.expect_navigation():
            page.click("section.login button[type=submit]")
        assert page.url.endswith("/incidents/"), page.url
        assert username in page.inner_text("header .user")
        return page

    def screenshot(self, page, name: str) -> None:
        """To the test's tmp folder; and when asked (``make screenshots``) to docs/screenshots/
        for the README, unless the machine has no Chinese font (the pages would show boxes
        for every character)."""
        page.screenshot(path=str(self.shots / name))
        self.keep(name)

    def keep(self, name: str) -> None:
        """The image ``name`` of the test's tmp folder, to docs/screenshots/ when asked."""
        if os.environ.get("CRISISWATCH_SCREENSHOTS") == "1" and _has_cjk_font():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.shots / name, SCREENSHOTS / name)


@functools.lru_cache(maxsize=None)
def _has_cjk_font() -> bool:
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        found = ""
    if not found.strip():
        warnings.warn(f"no Chinese font (apt-get install fonts-noto-cjk): screenshots left in the tmp folder only, "
                      f"{SCREENSHOTS} not updated")
    return bool(found.strip())


def click(page, selector: str) -> None:
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


# -- the flow ------------------------------------------------------------------------------


def test_a_joint_release_from_draft_to_published_in_the_browser(site):
    drafter = site.log_in("grid_drafter", screenshot=True)

    drafter.fill("form[action='/incidents/'] input[name=title]", "7月25日琼山区停电")
    drafter.fill("form[action='/incidents/'] input[name=query]", "停电")
    click(drafter, "form[action='/incidents/'] button[type=submit]")
    incident_url = drafter.url
    assert "/incidents/" in incident_url and incident_url.rsplit("/", 1)[1].isdigit()
    for key, value in (("households", "12000"), ("restoration_estimate", "7月26日18:00"), ("hotline", "95598"),
                       ("affected_areas", "琼山区")):
        drafter.select_option("#fact-sheet select[name=key]", key)
        drafter.fill("#fact-sheet input[name=value]", value)
        click(drafter, "#fact-sheet button[type=submit]")
    facts = drafter.inner_text("#fact-sheet dl")
    for value in ("12000", "7月26日18:00", "95598", "琼山区", GRID):
        assert value in facts
    clocks = drafter.inner_text("#rumor-clocks")
    assert "紧急通知" in clocks, drafter.inner_html("#rumor-clocks")  # a rumor being answered against the clock
    site.screenshot(drafter, "incident.png")

    drafter.fill("#releases input[name=title]", TITLE)
    drafter.fill("#releases textarea[name=body]", WRONG)
    drafter.select_option("#releases select[name=channel]", "weibo")
    drafter.check(f"#releases label:has-text('{CITY}') input[name=required]")
    drafter.check(f"#releases label:has-text('{GRID}') input[name=required]")
    drafter.check("#releases input[name=joint]")
    click(drafter, "#releases button[type=submit]")
    release_url = drafter.url
    assert "/releases/" in release_url, release_url
    checks = drafter.inner_text("#checks")
    assert "户数" in checks and "15000" in checks and "12000" in checks
    site.screenshot(drafter, "release-check.png")
    click(drafter, "button[value=submit]")
    assert "审核中" in drafter.inner_text("h1 .state")

    city = site.log_in("city_approver")
    city.goto(release_url)
    click(city, "button[value=approve]")
    refused = city.inner_text(".flash-error")
    assert "户数" in refused and "15000" in refused
    assert "待审批" in city.inner_text("#approvals")

    drafter.fill("#actions textarea[name=body]", RIGHT)
    click(drafter, "button[value=edit]")
    assert "检查通过" in drafter.inner_text("#checks")
    assert drafter.inner_text(".release-body") == RIGHT
    click(drafter, "#versions a:has-text('与上一版比较')")
    assert "/diff" in drafter.url
    assert drafter.inner_text(".diff.release-body del") == "5" and drafter.inner_text(".diff.release-body ins") == "2"
    site.screenshot(drafter, "diff.png")

    city.goto(release_url)
    click(city, "button[value=approve]")
    assert not city.query_selector(".flash-error")
    grid = site.log_in("grid_approver")
    grid.goto(release_url)
    click(grid, "button[value=approve]")
    approvals = grid.inner_text("#approvals")
    assert approvals.count("已批准") == 2 and "city_approver" in approvals and "grid_approver" in approvals
    assert "已批准" in grid.inner_text("h1 .state")
    site.screenshot(grid, "approvals.png")

    publisher = site.log_in("grid_publisher")
    publisher.goto(release_url)
    assert publisher.input_value("#actions input[name=when]") == ""  # empty: now
    click(publisher, "button[value=schedule]")
    assert not publisher.query_selector(".flash-error")
    assert "已排期" in publisher.inner_text("h1 .state")

    report = publish_due(site.settings)  # the scheduler's job
    assert report is not None and len(report.published) == 1, report
    publisher.reload()
    assert "已发布" in publisher.inner_text("h1 .state")
    deliveries = publisher.inner_text("#deliveries")
    assert deliveries.count("已送达") == 2 and CITY in deliveries and GRID in deliveries
    site.screenshot(publisher, "published.png")

    received = site.receiver.received
    assert sorted(r["org"] for r in received) == sorted([CITY, GRID]), received
    for hit in received:
        assert hit["signed"] and hit["content_type"].startswith("application/json")
        body = json.loads(hit["body"].decode("utf-8"))
        assert body["body"] == RIGHT and body["title"] == TITLE and body["version"] == 2
        assert body["destination"] == {"organisation": hit["org"], "channel": "press-room"}
        assert sorted(o["name"] for o in body["organisations"]) == sorted([CITY, GRID])
    with site.app.extensions["crisiswatch"].sessions() as session:
        verified = audit.verify(session)
        assert verified.ok and verified.entries > 10, verified

    drafter.goto(incident_url)
    assert "已发布" in drafter.inner_text("#releases")
    if not ECHARTS.exists():
        pytest.fail(f"{ECHARTS} is missing, so the dashboard's charts cannot draw: run `make` (it installs ECharts from npm)")
    click(drafter, "main a[href$='/dashboard']")
    assert drafter.url.split("?")[0].endswith("/dashboard")
    for chart in ("volume", "sentiment", "emotion", "topics", "places"):
        drafter.wait_for_selector(f"#chart-{chart} canvas", state="attached")
    drafter.wait_for_function("() => Array.from(document.querySelectorAll('.chart canvas')).every("
                              "c => c.width > 0 && c.height > 0)")
    site.screenshot(drafter, "dashboard.png")

    drafter.goto(f"{site.url}/?q=停电")
    assert drafter.query_selector("ol.hits li.hit")
    site.screenshot(drafter, "search.png")

    admin = site.log_in("city_admin")
    admin.goto(f"{site.url}/admin/")
    text = admin.inner_text("main")
    assert "grid_drafter" in text and GRID in text
    site.screenshot(admin, "admin.png")
    assert site.dialogs == []


# -- posts with markup stay text -----------------------------------------------------------


def _no_injection(page):
    assert page.query_selector("img[src=x]") is None
    assert page.query_selector("main iframe") is None and page.query_selector("main svg[onload]") is None
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.textContent)")
    assert not [s for s in scripts if "alert(" in s], scripts


def test_posts_with_markup_show_as_text_in_the_browser(site):
    page = site.log_in("grid_drafter")
    page.goto(f"{site.url}/?q=停电谣言")
    assert len(page.query_selector_all("ol.hits li.hit")) >= len(PAYLOADS)
    text = page.inner_text("ol.hits")
    for payload in PAYLOADS:
        assert payload in text, payload
    _no_injection(page)
    for n, payload in enumerate(PAYLOADS):
        page.goto(f"{site.url}/posts/{site.post_ids[f'xss{n}']}")
        assert payload in page.inner_text(".post-text")
        _no_injection(page)
    # the incident page's rumor clocks and the dashboard's top posts quote the posts too
    page.goto(f"{site.url}/incidents/")
    page.fill("form[action='/incidents/'] input[name=title]", "停电谣言")
    page.fill("form[action='/incidents/'] input[name=query]", "停电谣言")
    click(page, "form[action='/incidents/'] button[type=submit]")
    clocks = page.inner_text("#rumor-clocks")
    for payload in PAYLOADS:
        assert payload in clocks, payload
    _no_injection(page)
    page.goto(page.url + "/dashboard")
    assert PAYLOADS[0] in page.inner_text("#top-posts") or PAYLOADS[0] in page.inner_text("#top-rumors")
    _no_injection(page)
    assert site.dialogs == []


# -- alerts --------------------------------------------------------------------------------


def test_a_scheme_made_in_the_browser_fires_and_the_top_bar_count_follows_without_a_reload(site):
    """The count in the top bar is polled by alerts.js: it shows the alert that opened
    after the page loaded, and the alert's page takes its acknowledgement."""
    page = site.log_in("grid_drafter")
    page.goto(f"{site.url}/alerts/schemes/")
    page.fill("input[name=name]", "琼山区停电")
    page.fill("input[name=query]", "停电")
    click(page, "form[action='/alerts/schemes/'] button[type=submit]")
    page.select_option("select[name=kind]", "keyword")
    page.fill("input[name=words]", "停电三天")
    page.fill("input[name=window]", "3h")
    click(page, "#rules form button[type=submit] >> nth=-1")
    assert "停电三天" in page.inner_text("#rules")
    page.goto(f"{site.url}/alerts/")
    assert not page.is_visible("#alert-count")
    services = site.app.extensions["crisiswatch"]
    with services.sessions.begin() as session:
        [change] = alerts.check(session, services.store, services.index)
        alert_id = change.alert.id
    page.wait_for_function("() => document.getElementById('alert-count').textContent === '1'", timeout=30_000)
    assert page.is_visible("#alert-count")
    page.reload()
    site.screenshot(page, "alerts.png")
    click(page, f"a[href='/alerts/{alert_id}']")
    assert "停电三天" in page.inner_text("#evidence") and RUMOR in page.inner_text("#evidence")
    site.screenshot(page, "alert.png")
    click(page, "form[action$='/acknowledge'] button")
    assert "处置中" in page.inner_text("h1")
    assert site.dialogs == []


# -- a phone's width -----------------------------------------------------------------------


def _overflow(page) -> list[str]:
    """The elements that reach past the right edge of the window (a page wider than the
    phone scrolls sideways), by tag and class."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        return Array.from(document.querySelectorAll('body *'))
            .filter(e => e.getBoundingClientRect().right > width + 1 && e.getClientRects().length
                         && !e.closest('.bars, details:not([open])'))
            .map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className : ''));
    }""")


def test_pages_fit_a_390_pixel_phone(site):
    """At 390 x 844 (a phone) the header, the search page, a post, an incident and its
    dashboard's charts stay within the width: no sideways scrolling."""
    page = site.log_in("grid_drafter", viewport=PHONE)
    page.fill("form[action='/incidents/'] input[name=title]", "7月25日琼山区停电")
    page.fill("form[action='/incidents/'] input[name=query]", "停电")
    click(page, "form[action='/incidents/'] button[type=submit]")
    incident = page.url
    pages = {"phone-search.png": f"{site.url}/?q=停电", "phone-post.png": f"{site.url}/posts/{site.post_ids['rumor1']}",
             "phone-incident.png": incident, "phone-dashboard.png": incident + "/dashboard",
             "phone-stories.png": f"{site.url}/stories/", "phone-search-en.png": f"{site.url}/?q=停电&lang=en",
             "phone-dashboard-en.png": incident + "/dashboard?lang=en", "phone-alerts.png": f"{site.url}/alerts/"}
    for name, url in pages.items():
        page.goto(url)
        if "dashboard" in url and ECHARTS.exists():
            page.wait_for_function("() => Array.from(document.querySelectorAll('.chart canvas')).length == 5")
        site.screenshot(page, name)  # the first screen: the header and the top of the page
        if "dashboard" in url:
            page.locator(".charts").screenshot(path=str(site.shots / "phone-charts.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (url, _overflow(page))
        assert _overflow(page) == [], url
    assert site.dialogs == []


# -- the map -------------------------------------------------------------------------------


def test_the_dashboard_map_drills_into_a_province_and_a_city_opens_the_search_for_it(site):
    if not (ECHARTS.exists() and CHINA_MAP.exists()):
        pytest.fail("the chart library or the map's GeoJSON is missing: run `make` (it installs both from npm)")
    services = site.app.extensions["crisiswatch"]
    now = datetime.now(timezone.utc)
    services.store.upsert_posts([make_post(platform="weibo", platform_id=f"wuhan{n}", text="武汉市武昌区停电了" + "!" * n,
                                           created_at=now - timedelta(minutes=n))
                                 for n in range(3)])
    untagged = dict(services.store.posts_to_tag(0, 100))
    services.store.save_tags([Tags(post_id, 0.2, "anger", 0.7, ["outage_report"], "browser-test",
                                   places=gazetteer().find(jieba.lcut(text))[0]) for post_id, text in untagged.items()])
    assert index_pending(services.store, services.index) == 3
    page = site.log_in("grid_drafter")
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.fill("form[action='/incidents/'] input[name=title]", "武汉停电")
    page.fill("form[action='/incidents/'] input[name=query]", "停电")
    click(page, "form[action='/incidents/'] button[type=submit]")
    page.goto(page.url + "/dashboard")
    page.wait_for_selector("#chart-map canvas")
    drawn = "() => echarts.getInstanceByDom(document.getElementById('chart-map')).getOption().series[0].map === '{}'"
    page.wait_for_function(drawn.format("100000"))
    page.locator("#place-map").scroll_into_view_if_needed()
    site.screenshot(page, "map.png")
    page.select_option("#map-scope", "420000")  # Hubei and its cities
    page.wait_for_function(drawn.format("420000"))
    wuhan = page.evaluate("""() => {
        const element = document.getElementById('chart-map'), box = element.getBoundingClientRect();
        const [x, y] = echarts.getInstanceByDom(element).convertToPixel({seriesIndex: 0}, [114.3, 30.6]);
        return [box.left + x, box.top + y];
    }""")
    with page.expect_navigation():
        page.mouse.click(*wuhan)
    assert "place=420100" in page.url and "q=%E5%81%9C%E7%94%B5" in page.url, page.url
    assert len(page.query_selector_all("ol.hits li.hit")) == 3
    assert errors == [] and site.dialogs == []


def test_the_spread_page_draws_the_tree_and_quotes_the_posts_as_text(site):
    if not ECHARTS.exists():
        pytest.fail(f"{ECHARTS} is missing, so the spread page cannot draw: run `make` (it installs ECharts from npm)")
    now = datetime.now(timezone.utc)
    site.app.extensions["crisiswatch"].store.upsert_posts(
        [make_post(platform="weibo", platform_id="spread0", text=RUMOR, author_name="源头", created_at=now - timedelta(hours=1))]
        + [make_post(platform="weibo", platform_id=f"spread{n}", kind="repost", parent_id=f"spread{n // 2}",
                     text=f"转发 {payload}", author_name=f"网友{n}", created_at=now - timedelta(minutes=50 - n))
           for n, payload in enumerate(PAYLOADS, start=1)])
    source = site.app.extensions["crisiswatch"].store.get_post(max(site.post_ids.values()) + 1)
    page = site.log_in("grid_drafter")
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{site.url}/posts/{source['id']}")
    click(page, "#spread-link")
    page.wait_for_selector("#chart-tree canvas")
    page.wait_for_selector("#chart-growth canvas")
    for chart in ("tree", "growth"):  # a tooltip is drawn on the canvas: no HTML, no inline style
        page.evaluate(f"() => echarts.getInstanceByDom(document.getElementById('chart-{chart}'))"
                      ".dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 2})")
    assert "网友" in page.inner_text("#key-spreaders") and RUMOR in page.inner_text("#first-source")
    # the texts are in the page's inert JSON block (its "<" written as \u003c) and shown as text, never run
    assert page.query_selector("img[src=x]") is None and page.query_selector("main iframe, main svg[onload]") is None
    assert "\\u003cscript" in page.inner_html("#spread-data")
    site.screenshot(page, "spread.png")
    assert errors == [] and site.dialogs == []


def test_the_incident_page_draws_its_psr_timeline(site):
    if not ECHARTS.exists():
        pytest.fail(f"{ECHARTS} is missing, so the timeline cannot draw: run `make` (it installs ECharts from npm)")
    page = site.log_in("grid_drafter")
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.fill("form[action='/incidents/'] input[name=title]", "琼山停电")
    page.fill("form[action='/incidents/'] input[name=query]", "停电")
    click(page, "form[action='/incidents/'] button[type=submit]")
    page.select_option("#fact-sheet select[name=key]", "households")
    page.fill("#fact-sheet input[name=value]", "12000")
    click(page, "#fact-sheet button[type=submit]")
    page.wait_for_selector("#chart-psr canvas")
    option = page.evaluate("""() => {
        const option = echarts.getInstanceByDom(document.getElementById('chart-psr')).getOption();
        const marked = option.series.find(s => s.markLine && s.markLine.label.show !== false);
        return {grids: option.grid.length, posts: option.series[0].data, phases: marked.markLine.data,
                state: option.series.filter(s => s.step).map(s => s.data[s.data.length - 1])};
    }""")
    assert option["grids"] == 3 and sum(option["posts"]) == 14  # the site's posts with 停电
    # a young incident's page counts by the minute, so onset and peak fall where the site's posts do
    names = [phase["name"] for phase in option["phases"]]
    assert any("高峰" in name for name in names) and option["state"] == [12000]
    assert all(set(name.split(" · ")) <= {"起始", "高峰", "回落"} for name in names)
    page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-psr'))"
                  ".dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0})")  # on the canvas, as text
    assert "12000" in page.inner_text("#psr-events") and "高峰" in page.inner_text("#psr-phases")
    page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-psr')).dispatchAction({type: 'hideTip'})")
    page.locator("#psr-timeline").scroll_into_view_if_needed()
    site.screenshot(page, "psr.png")
    assert errors == [] and site.dialogs == []


def test_a_special_report_is_made_on_the_reports_page_shown_and_downloaded_as_pdf(site):
    """The reports page makes a special report of a new incident, shows it in its frame
    with its Chinese title, and its PDF's first pages (pdftoppm) are kept for the README."""
    page = site.log_in("grid_drafter")
    page.fill("form[action='/incidents/'] input[name=title]", "美兰停电")
    page.fill("form[action='/incidents/'] input[name=query]", "停电")
    click(page, "form[action='/incidents/'] button[type=submit]")
    page.goto(f"{site.url}/reports/")
    page.select_option("#report-form select[name=kind]", "special")
    page.select_option("#report-form select[name=incident]", label="美兰停电")
    click(page, "#report-form button[type=submit]")
    assert page.inner_text("h1") == "舆情专报：美兰停电"
    frame = page.frame_locator("iframe.report-frame")
    assert frame.locator("h1").inner_text() == "舆情专报：美兰停电"
    assert frame.locator("#volume img").count() == 1  # the volume chart, drawn as an image
    site.screenshot(page, "reports.png")

    pdf = page.request.get(site.url + page.locator(".downloads a", has_text="PDF").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")
    (site.shots / "report.pdf").write_bytes(pdf.body())
    for number in (1, 2):
        subprocess.run(["pdftoppm", "-f", str(number), "-l", str(number), "-r", "80", "-png", "-singlefile",
                        str(site.shots / "report.pdf"), str(site.shots / f"report-page-{number}")], check=True, timeout=60)
        site.keep(f"report-page-{number}.png")
    assert site.dialogs == []
