"""The release workflow through the real Flask app: a joint release drafted by the grid
company, caught by the fact check, fixed, approved by both sides, scheduled and
published to their channels; and the security rules (another organisation's release is
a 404, a drafter cannot approve, every form needs its CSRF token, posts stay text)."""

import ast
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from core.schema import make_post
from core.settings import Settings
from core.store import Store, utcnow
from crisiswatch.publishing import publish_due
from desk import accounts, audit, releases
from desk.limits import FIELDS
from desk.tables import Release
from review_ui import create_app, i18n
from tests.conftest import csrf_token, log_in, statements_with

CITY, GRID, OTHER = "海口市人民政府", "海口供电局", "三亚市人民政府"
PAYLOADS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "<iframe src=javascript:alert(3)>"]


@pytest.fixture
def app(tmp_path):
    settings = Settings.load(tmp_path / "home").ensure_home()
    store = Store(settings.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id=f"x{n}", text=f"停电谣言 {payload}")
                        for n, payload in enumerate(PAYLOADS)])
    store.close()
    app = create_app(settings)
    users = {}
    with app.extensions["crisiswatch"].sessions.begin() as session:
        city = accounts.create_organisation(session, CITY, "government", "city")
        grid = accounts.create_organisation(session, GRID, "enterprise", "branch")
        other = accounts.create_organisation(session, OTHER, "government", "city")
        for name, org, roles in (("grid_drafter", grid, ["drafter"]), ("grid_approver", grid, ["approver"]),
                                 ("grid_publisher", grid, ["publisher"]), ("city_approver", city, ["approver"]),
                                 ("other_drafter", other, ["drafter", "approver"])):
            users[name] = f"pw-{name}-0123456789"
            accounts.create_user(session, name, name, users[name], org, roles)
    (settings.home / "channels.toml").write_text(
        f'[[organisation]]\nname = "{CITY}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\nfolder = "out/city"\n'
        f'[[organisation]]\nname = "{GRID}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\nfolder = "out/grid"\n',
        encoding="utf-8")
    app.users = users
    app.settings = settings
    return app


def client_of(app, username):
    client = app.test_client()
    assert log_in(client, username, app.users[username]).status_code == 303
    return client


def post_form(client, page_url, action_url, follow=False, **fields):
    """Submit a form the way a browser does: with the CSRF token of the page it is on, and
    the version of the text it shows (the approve form's hidden field)."""
    page = client.get(page_url).get_data(as_text=True)
    shown = re.search(r'name="version" value="(\d+)"', page)
    data = {"csrf_token": csrf_token(page), **({"version": shown.group(1)} if shown else {}), **fields}
    return client.post(action_url, data=data, follow_redirects=follow)


def org_ids(app):
    with app.extensions["crisiswatch"].sessions() as session:
        return {org.name: org.id for org in accounts.list_organisations(session)}


def new_release(app, drafter, body):
    client = client_of(app, drafter)
    made = post_form(client, "/incidents/", "/incidents/", title="7月25日琼山区停电", query="停电", major="on")
    incident = made.headers["Location"].rsplit("/", 1)[1]
    ids = org_ids(app)
    for key, value in (("households", "12000"), ("restoration_estimate", "7月26日18:00"), ("hotline", "95598"),
                       ("affected_areas", "琼山区")):
        post_form(client, f"/incidents/{incident}", f"/incidents/{incident}/facts", key=key, value=value)
    created = post_form(client, f"/incidents/{incident}", f"/incidents/{incident}/releases", title="关于琼山区停电的情况通报",
                        body=body, channel="weibo", required=[str(ids[CITY]), str(ids[GRID])], joint="on")
    assert created.status_code == 303, created.get_data(as_text=True)
    return client, created.headers["Location"]


WRONG = "7月25日琼山区因线路故障停电，影响15000户，预计7月26日18:00前恢复供电。咨询电话95598。"
RIGHT = WRONG.replace("15000户", "12000户")


def refusals(app) -> list[tuple]:
    """The audited attempts that the workflow refused or its checks blocked."""
    with app.extensions["crisiswatch"].sessions() as session:
        return [(e["actor"], e["action"], e["target"], e["detail"]) for e in audit.export(session)
                if e["action"] in ("workflow.refused", "workflow.blocked")]


def test_a_joint_release_from_draft_to_published(app):
    drafter, url = new_release(app, "grid_drafter", WRONG)
    page = drafter.get(url).get_data(as_text=True)
    assert "15000" in page and "12000" in page and "户数" in page  # the fact check shows the contradiction
    post_form(drafter, url, f"{url}/submit")
    approver = client_of(app, "city_approver")
    refused = post_form(approver, url, f"{url}/approve", follow=True)
    assert "户数" in refused.get_data(as_text=True)
    release = f"release:{url.rsplit('/', 1)[1]}"
    assert refusals(app) == [("city_approver", "workflow.blocked", release,
                              {"attempted": "approve", "problems": ["contradiction"]})]
    post_form(drafter, url, f"{url}/edit", title="关于琼山区停电的情况通报", body=RIGHT)
    fixed = drafter.get(url).get_data(as_text=True)
    assert "检查通过" in fixed and "15000" not in fixed.split('id="versions"')[0]
    diff = drafter.get(f"{url}/diff?a=1&b=2").get_data(as_text=True)
    assert "1<del>5</del><ins>2</ins>000户" in diff  # the visible diff of versions 1 and 2
    for name in ("city_approver", "grid_approver"):
        approved = post_form(client_of(app, name), url, f"{url}/approve")
        assert approved.status_code == 303
    assert "已批准" in drafter.get(url).get_data(as_text=True)
    publisher = client_of(app, "grid_publisher")
    assert post_form(publisher, url, f"{url}/schedule", when="").status_code == 303
    report = publish_due(app.settings)
    assert report is not None and len(report.published) == 1
    page = publisher.get(url).get_data(as_text=True)
    assert "已发布" in page and page.count("已送达") == 2
    for side in ("city", "grid"):
        sent = list((app.settings.home / "out" / side).glob("release-*.json"))
        assert len(sent) == 1 and json.loads(sent[0].read_text(encoding="utf-8"))["body"] == RIGHT
    with app.extensions["crisiswatch"].sessions() as session:
        assert audit.verify(session).ok


def test_an_approval_is_of_the_version_the_approver_read(app):
    drafter, url = new_release(app, "grid_drafter", RIGHT)
    post_form(drafter, url, f"{url}/submit")
    approver = client_of(app, "city_approver")
    page = approver.get(url).get_data(as_text=True)  # version 1 on the approver's screen
    post_form(drafter, url, f"{url}/edit", title="关于琼山区停电的情况通报", body=RIGHT + "与电网公司无责。")
    read = re.search(r'name="version" value="(\d+)"', page).group(1)
    refused = approver.post(f"{url}/approve", data={"csrf_token": csrf_token(page), "version": read},
                            follow_redirects=True)
    assert read == "1" and "版本 2" in refused.get_data(as_text=True)  # told to read the new text
    with app.extensions["crisiswatch"].sessions() as session:
        release = session.get(Release, int(url.rsplit("/", 1)[1]))
        assert releases.approvals(session, release) == []
    assert post_form(approver, url, f"{url}/approve").status_code == 303  # version 2, now read
    with app.extensions["crisiswatch"].sessions() as session:
        release = session.get(Release, int(url.rsplit("/", 1)[1]))
        assert [a.version_number for a in releases.approvals(session, release)] == [2]


def test_another_organisation_sees_a_404_and_a_drafter_cannot_approve(app):
    drafter, url = new_release(app, "grid_drafter", RIGHT)
    post_form(drafter, url, f"{url}/submit")
    outsider = client_of(app, "other_drafter")
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"{url}/diff?a=1&b=1").status_code == 404
    token = csrf_token(outsider.get("/incidents/").get_data(as_text=True))
    assert outsider.post(f"{url}/approve", data={"csrf_token": token}).status_code == 404
    assert post_form(drafter, url, f"{url}/approve").status_code == 403
    [(actor, action, target, detail)] = refusals(app)  # the 404s were not refusals: nothing was shown
    assert (actor, action, target, detail["attempted"]) == ("grid_drafter", "workflow.refused",
                                                             f"release:{url.rsplit('/', 1)[1]}", "approve")
    assert f'action="{url}/approve"' not in drafter.get(url).get_data(as_text=True)  # no button either
    assert f'action="{url}/approve"' in client_of(app, "city_approver").get(url).get_data(as_text=True)


def test_every_workflow_form_needs_its_csrf_token(app):
    drafter, url = new_release(app, "grid_drafter", RIGHT)
    page = drafter.get(url).get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="([^"]+)"', page)
    assert forms
    for action in forms + ["/incidents/", "/incidents/1/facts", "/incidents/1/releases"]:
        assert drafter.post(action, data={"title": "x", "body": "y", "comment": "z"}).status_code == 400


def test_posts_with_markup_show_as_text_on_the_workflow_pages(app):
    drafter, url = new_release(app, "grid_drafter", RIGHT + PAYLOADS[0])
    incident = re.search(r'href="/incidents/(\d+)"', drafter.get(url).get_data(as_text=True)).group(1)
    for page_url in (url, f"/incidents/{incident}", f"/incidents/{incident}/dashboard", "/?q=停电谣言"):
        page = drafter.get(page_url).get_data(as_text=True)
        for payload in PAYLOADS:
            assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in drafter.get(url).get_data(as_text=True)


def test_the_incident_page_names_the_clusters_its_releases_answer_in_one_query(app):
    store = Store(app.settings.database_url)
    clusters = sorted({post["cluster"] for post in store.get_posts([1, 2, 3]).values()})
    store.close()
    assert len(clusters) == 3
    drafter, url = new_release(app, "grid_drafter", RIGHT)
    incident = re.search(r'href="/incidents/(\d+)"', drafter.get(url).get_data(as_text=True)).group(1)
    answering = post_form(drafter, f"/incidents/{incident}", f"/incidents/{incident}/releases", title="辟谣",
                          body=RIGHT, channel="weibo", clusters=",".join(clusters))
    assert answering.status_code == 303, answering.get_data(as_text=True)
    with statements_with(app.extensions["crisiswatch"].store.engine, "row_number") as looked_up:
        page = drafter.get(f"/incidents/{incident}").get_data(as_text=True)
    assert all(f"/?cluster={cluster}" in page for cluster in clusters)  # a rumor clock each
    assert all(f'href="/spread/cluster/{cluster}"' in page for cluster in clusters)  # each with how it spread
    assert len(looked_up) == 1


def approved_release(app):
    drafter, url = new_release(app, "grid_drafter", RIGHT)
    post_form(drafter, url, f"{url}/submit")
    for name in ("city_approver", "grid_approver"):
        post_form(client_of(app, name), url, f"{url}/approve")
    return url


def test_scheduling_without_channels_is_refused_and_a_failed_delivery_can_be_sent_again(app):
    url = approved_release(app)
    channels = app.settings.channels_file.read_text(encoding="utf-8")
    app.settings.channels_file.unlink()
    publisher = client_of(app, "grid_publisher")
    refused = post_form(publisher, url, f"{url}/schedule", follow=True, when="").get_data(as_text=True)
    assert "已批准" in refused and "channels.toml" in refused  # still approved, and told what to add
    # a channel that cannot be written: the delivery fails until it is fixed and sent again
    app.settings.channels_file.write_text(channels.replace('folder = "out/city"', 'folder = "blocked/city"'),
                                          encoding="utf-8")
    (app.settings.home / "blocked").write_text("a file where the folder should be")
    assert post_form(publisher, url, f"{url}/schedule", when="").status_code == 303
    with app.extensions["crisiswatch"].sessions.begin() as session:
        from desk.tables import Delivery
        for delivery in session.query(Delivery).all():
            delivery.attempts = 9  # one attempt before giving up
    publish_due(app.settings)
    page = publisher.get(url).get_data(as_text=True)
    assert "发送失败" in page and "已发布" not in page
    (app.settings.home / "blocked").unlink()
    retry = re.search(r'action="(/releases/\d+/deliveries/\d+/retry)"', page).group(1)
    assert client_of(app, "city_approver").post(retry, data={"csrf_token": csrf_token(page)}).status_code in (400, 403)
    assert post_form(publisher, url, retry).status_code == 303
    assert len(publish_due(app.settings).published) == 1
    assert "已发布" in publisher.get(url).get_data(as_text=True)


def test_a_mistake_in_the_channels_file_is_told_where_in_the_readers_language(app):
    url = approved_release(app)
    path = app.settings.channels_file
    path.write_text(path.read_text(encoding="utf-8").replace('kind = "file"\nfolder = "out/city"',
                                                              'kind = "webhook"\nurl = "https://x.cn/"', 1),
                    encoding="utf-8")
    publisher = client_of(app, "grid_publisher")
    page = post_form(publisher, url, f"{url}/schedule", follow=True, when="").get_data(as_text=True)
    assert (f"发布渠道配置文件有误：{path} 中第 1 个 [[organisation]] 表（{CITY}）的第 1 个渠道（archive）："
            "webhook 渠道需要至少 16 个字符的 secret") in page and "已批准" in page
    page = post_form(publisher, f"{url}?lang=en", f"{url}/schedule", follow=True, when="").get_data(as_text=True)
    assert (f"{path}: [[organisation]] number 1 ({CITY}), channel 1 (archive): "
            "a webhook channel needs a secret of 16 characters or more") in page

def test_an_incident_whose_search_does_not_parse_is_refused(app):
    drafter = client_of(app, "grid_drafter")
    page = post_form(drafter, "/incidents/", "/incidents/", follow=True, title="坏检索式", query='"停电').get_data(as_text=True)
    assert "检索式有误：双引号没有成对" in page and "坏检索式" not in page.split("<main")[1].split("</ul>")[0]


def test_login_never_redirects_off_the_site(app):
    for target in ("//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example/"):
        client = app.test_client()  # a login starts a new session (and a new CSRF token)
        token = csrf_token(client.get("/login").get_data(as_text=True))
        answer = client.post("/login", query_string={"next": target},
                             data={"csrf_token": token, "username": "grid_drafter", "password": app.users["grid_drafter"]})
        assert answer.status_code == 303 and "evil" not in answer.headers["Location"]


def test_every_workflow_refusal_reads_in_chinese_and_english(app):
    """Each code the workflow raises (found in its source) has a Chinese form, and a
    refusal reaches the page in the reader's language."""
    sources = [*Path(releases.__file__).parent.glob("*.py"), Path(i18n.__file__).with_name("releases.py")]
    raised = []
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                name = ast.unparse(node.exc.func).rsplit(".", 1)[-1]
                code = node.exc.args[0]
                if name in ("Forbidden", "Invalid", "InvalidTransition") and isinstance(code, ast.Constant):
                    raised.append(code.value)
    assert len(raised) > 30
    with app.test_request_context("/?lang=zh"):
        i18n.select_lang()
        untranslated = [code for code in raised if i18n.gettext(f"workflow_{code}") == f"workflow_{code}"]
    assert untranslated == []

    drafter, url = new_release(app, "grid_drafter", RIGHT)  # a draft: not yet to be approved
    approver = client_of(app, "city_approver")
    page = post_form(approver, url, f"{url}/approve", follow=True).get_data(as_text=True)
    assert "状态为“草稿”的稿件不能批准。" in page
    page = post_form(approver, f"{url}?lang=en", f"{url}/approve", follow=True).get_data(as_text=True)
    assert "“Approve” is not possible while the release is “Draft”" in page  # its names, not its codes


def test_the_fact_sheet_refuses_outsiders_and_shows_a_dispute(app):
    ids = org_ids(app)
    owner = client_of(app, "grid_drafter")
    made = post_form(owner, "/incidents/", "/incidents/", title="7月25日琼山区停电", query="停电", orgs=[str(ids[CITY])])
    incident = made.headers["Location"].rsplit("/", 1)[1]
    page_url, facts_url = f"/incidents/{incident}", f"/incidents/{incident}/facts"
    outsider = client_of(app, "other_drafter")  # of 三亚, not on this incident
    assert post_form(outsider, page_url, facts_url, key="households", value="15000").status_code == 403
    assert [(a, action, target, d["attempted"]) for a, action, target, d in refusals(app)] == [
        ("other_drafter", "workflow.refused", f"incident:{incident}", "set_fact")]
    assert "15000" not in owner.get(page_url).get_data(as_text=True)
    post_form(owner, page_url, facts_url, key="households", value="12000")
    city = client_of(app, "city_approver")
    told = post_form(city, page_url, facts_url, follow=True, key="households", value="13000").get_data(as_text=True)
    assert "停电户数由海口供电局负责：您的数值已作为争议记录在事实表上" in told
    sheet = owner.get(page_url).get_data(as_text=True).split('id="fact-sheet"')[1].split("</section>")[0]
    assert "12000" in sheet and "有争议" in sheet and f"{CITY} 认为：13000" in sheet
    assert f"处理单位：{CITY}、{GRID}</p>" in sheet  # the incident's organisations, 三亚 not among them
    english = owner.get(page_url + "?lang=en").get_data(as_text=True)
    assert f"Organisations handling it: {CITY}, {GRID}</p>" in english and "：" not in english.split("<body")[1]


def test_a_request_body_past_a_megabyte_is_refused_before_it_is_read(app):
    """Forms were read whole, however large, before anything was checked: anyone could
    have a worker hold hundreds of megabytes by posting to the login page."""
    anyone = app.test_client()
    huge = anyone.post("/login", data={"username": "x", "password": "停" * 400_000})  # 3.6 MB as the form sends it
    assert huge.status_code == 413 and "提交的内容过大" in huge.get_data(as_text=True)
    drafter = client_of(app, "grid_drafter")  # the longest text a form takes still goes through
    url = approved_release(app)
    body = "停" * FIELDS["body"][2]
    assert post_form(drafter, url, f"{url}/edit", title="标题", body=body).status_code == 303


def test_a_text_over_its_limit_is_a_clear_message_in_chinese_and_english(app):
    url = approved_release(app)
    drafter = client_of(app, "grid_drafter")
    too_long = "停" * (FIELDS["body"][2] + 1)
    page = post_form(drafter, url, f"{url}/edit", follow=True, title="标题", body=too_long).get_data(as_text=True)
    assert "正文最多 20000 个字（现有 20001 个），请缩短。" in page
    page = post_form(drafter, f"{url}?lang=en", f"{url}/edit", follow=True, title="标题", body="停\x00电").get_data(as_text=True)
    assert "the body contains a NUL character" in page
    assert "已批准" in drafter.get(f"{url}?lang=zh").get_data(as_text=True)  # nothing saved, still approved


def test_the_schedule_form_checks_the_role_before_it_reads_the_time(app):
    url = approved_release(app)
    release = f"release:{url.rsplit('/', 1)[1]}"
    drafter = client_of(app, "grid_drafter")  # no publisher role
    assert post_form(drafter, url, f"{url}/schedule", when="0001-01-01T00:00+14:00").status_code == 403
    assert [(actor, action, target) for actor, action, target, _ in refusals(app)] == [
        ("grid_drafter", "workflow.refused", release)]
    publisher = client_of(app, "grid_publisher")
    for when, told in (("0001-01-01T00:00+14:00", "超出可查询的日期范围"), ("2150-12-31T23:59", "最多在一年之后"),
                       ("明天", "不是有效日期")):
        answer = post_form(publisher, url, f"{url}/schedule", when=when)
        assert answer.status_code == 303
        page = publisher.get(url).get_data(as_text=True)
        assert told in page and "已批准" in page  # told why, and still waiting to be scheduled


def test_the_release_page_says_why_a_scheduled_release_is_held(app):
    url = approved_release(app)
    later = (utcnow() + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")  # 2 h from now, China time
    publisher = client_of(app, "grid_publisher")
    assert post_form(publisher, url, f"{url}/schedule", when=later).status_code == 303
    drafter = client_of(app, "grid_drafter")
    incident = drafter.get(url).get_data(as_text=True).split('<p class="back"><a href="')[1].split('"')[0]
    post_form(drafter, incident, f"{incident}/facts", key="households", value="15000")
    report = publish_due(app.settings, now=utcnow() + timedelta(hours=3))
    assert report.results == [] and list(report.held) == [int(url.rsplit("/", 1)[1])]
    page = publisher.get(url).get_data(as_text=True)
    assert "已暂停发送" in page and "户数与事实表不一致" in page and "已发布" not in page
    assert not list((app.settings.home / "out").glob("*/release-*.json"))


def test_a_young_incidents_dashboard_counts_by_the_minute_unless_asked_otherwise(app):
    client = client_of(app, "grid_drafter")
    made = post_form(client, "/incidents/", "/incidents/", title="滨海停电", query="停电谣言", major="on")
    dashboard = made.headers["Location"] + "/dashboard"
    for asked, current in (("", "minute"), ("?interval=minute", "minute"), ("?interval=hour", "hour"),
                           ("?interval=day", "day")):
        page = client.get(dashboard + asked).get_data(as_text=True)
        assert re.findall(r'interval=(\w+)" aria-current="true"', page) == [current], asked
    assert client.get(dashboard + "?interval=week").status_code == 400
