"""Alerts in the review UI through the real Flask app on a real store and embedded index:
a scheme and its rules made through the forms, an alert opened by ``desk.alerts.check``
and handled through the forms to its end (in Chinese and English), the count the top bar
polls, another organisation's 403, the forms' CSRF tokens, and the incident page's alerts
with the times from the first post to the published answer."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from core.schema import Tags, make_post
from core.settings import Settings
from desk import accounts, alert_outbox, alerts, releases as flow
from desk.tables import Alert, AlertRecipient, AuditEntry, Release, User
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from review_ui import alerts as alerts_ui, create_app, i18n
from tests.conftest import csrf_token, log_in

CITY, OTHER = "滨海市人民政府", "海口市人民政府"
ROLES = {"analyst": (CITY, ["analyst"]), "drafter": (CITY, ["drafter"]), "approver": (CITY, ["approver"]),
         "other": (OTHER, ["analyst", "drafter"]), "admin": (OTHER, ["admin"])}


@pytest.fixture
def app(tmp_path, store):
    """The app on each database (``store``), its posts indexed in the embedded index."""
    settings = Settings.load(tmp_path / "home", index_backend="embedded").ensure_home()
    now = datetime.now(timezone.utc)
    store.upsert_posts([make_post(platform="weibo", platform_id=f"b{n}", likes_count=n,
                                  text=f"滨海市变电站爆炸了 {n} <b>x</b>",
                                  created_at=(now - timedelta(minutes=10 - n)).isoformat())
                        for n in range(6)])
    store.save_tags([Tags(post_id, 0.2, "anger", 0.9, [], "test-model") for post_id, _ in store.posts_to_tag(0, 10)])
    index_pending(store, EmbeddedIndex(settings.index_dir))
    app = create_app(settings, store=store)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        for org in (CITY, OTHER):
            accounts.create_organisation(session, org, "government", "city")
        for name, (org, roles) in ROLES.items():
            accounts.create_user(session, name, name, f"pw-{name}-0123456789", accounts.find_organisation(session, org),
                                 roles)
    yield app
    shutil.rmtree(settings.home)  # no audit anchor left to write at exit, when PostgreSQL has stopped


def client_of(app, name: str):
    client = app.test_client()
    assert log_in(client, name, f"pw-{name}-0123456789").status_code == 303
    return client, csrf_token(client.get("/login").get_data(as_text=True))


def check(app) -> list[alerts.Change]:
    services = app.extensions["crisiswatch"]
    with services.sessions.begin() as session:
        return [change.alert.id for change in alerts.check(session, services.store, services.index)]


def with_scheme(app, client, token) -> int:
    """A scheme and a keyword rule on it, made through the forms: the scheme's id."""
    made = client.post("/alerts/schemes/", data={"csrf_token": token, "name": "滨海台风", "query": "滨海市"})
    assert made.status_code == 303
    scheme_id = int(made.headers["Location"].rsplit("/", 1)[1])
    added = client.post(f"/alerts/schemes/{scheme_id}/rules", data={
        "csrf_token": token, "kind": "keyword", "words": "爆炸，起火", "window": "30m", "levels": "3,10,20"})
    assert added.status_code == 303
    return scheme_id


def with_channels(app) -> None:
    """The channels file, with the channels the recipients' forms name."""
    app.extensions["crisiswatch"].settings.channels_file.write_text("".join(
        f'[[organisation]]\nname = "{org}"\n' + "".join(
            f'[[organisation.channel]]\nname = "{name}"\nkind = "webhook"\nurl = "http://127.0.0.1:9/{name}"\n'
            f'secret = "alert-secret-0123456789abcdef"\n' for name in ("press-room", "duty"))
        for org in (CITY, OTHER)), encoding="utf-8")


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_a_scheme_and_rule_made_in_the_forms_fire_and_the_alert_is_handled_to_its_end(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    scheme_page = page(client, f"/alerts/schemes/{scheme_id}")
    assert "敏感词" in scheme_page and "爆炸、起火" in scheme_page and "统计窗口 30 分钟" in scheme_page
    bad = client.post(f"/alerts/schemes/{scheme_id}/rules", follow_redirects=True,
                      data={"csrf_token": token, "kind": "spike", "window": "soon"})
    assert "window 须为时长，如 15m、12h 或 1d，而不是 soon" in bad.get_data(as_text=True)
    assert client.get("/api/alerts/count").get_json() == {"open": 0}

    [alert_id] = check(app)
    assert client.get("/api/alerts/count").get_json() == {"open": 1}
    listed = page(client, "/alerts/")
    assert f'href="/alerts/{alert_id}"' in listed and 'class="level level-III"' in listed and "待研判" in listed
    assert "III 级（黄色，较重）" in listed and "滨海台风" in listed
    assert page(client, "/alerts/?state=closed").count("没有预警") == 1
    assert "没有预警" in page(client, "/alerts/?level=I")
    assert client.get("/alerts/?level=V").status_code == 400

    shown = page(client, f"/alerts/{alert_id}")
    assert "6 条，基线预期 0.0 条" in shown and "滨海市变电站爆炸了 5" in shown and "&lt;b&gt;" in shown
    assert "<dt>敏感词</dt><dd>爆炸</dd>" in shown and "<dt>基线期帖子数</dt><dd>0</dd>" in shown
    search = re.search(r'href="(/\?q=[^"]+)"', shown).group(1).replace("&amp;", "&")
    assert "sort=newest" in search and page(client, search).count('class="hit"') == 6  # the search page shows them

    assert client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token}).status_code == 303
    assert "处置中" in page(client, f"/alerts/{alert_id}")
    due = (datetime.now(timezone.utc) - timedelta(hours=1)).astimezone(timezone(timedelta(hours=8)))
    assigned = client.post(f"/alerts/{alert_id}/assign", data={"csrf_token": token, "user": "drafter",
                                                               "due": due.strftime("%Y-%m-%dT%H:%M")})
    assert assigned.status_code == 303
    assert '<tr class="overdue">' in page(client, "/alerts/") and "已超时" in page(client, f"/alerts/{alert_id}")
    refused = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token}, follow_redirects=True)
    assert "处置中" in refused.get_data(as_text=True) and "flash-error" in refused.get_data(as_text=True)
    assert client.post(f"/alerts/{alert_id}/close", data={"csrf_token": token}).status_code == 303
    assert client.get("/api/alerts/count").get_json() == {"open": 0}
    assert client.post(f"/alerts/{alert_id}/reopen", data={"csrf_token": token}).status_code == 303
    with app.extensions["crisiswatch"].sessions() as session:
        alert = session.get(Alert, alert_id)
        drafter = session.query(User).filter_by(username="drafter").one()
        assert alert.state == "handling" and alert.assignee_id == drafter.id

    removed = client.post(f"/alerts/schemes/{scheme_id}/rules/1/remove", data={"csrf_token": token},
                          follow_redirects=True)
    assert "该规则已触发过预警" in removed.get_data(as_text=True)
    assert client.post(f"/alerts/schemes/{scheme_id}/remove", data={"csrf_token": token}).status_code == 303
    assert "还没有监测方案" in page(client, "/alerts/schemes/")


def test_a_schemes_query_and_a_rules_options_are_edited_in_the_forms_and_wrong_values_said(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    edited = client.post(f"/alerts/schemes/{scheme_id}", follow_redirects=True,
                         data={"csrf_token": token, "name": "滨海台风停电", "query": "停电 -演练",
                               "places": "460100", "platform": ["weibo", "gov", "<x>"]})
    shown = edited.get_data(as_text=True)
    assert 'value="停电 -演练"' in shown and 'value="460100"' in shown and 'value="gov" checked' in shown
    share = {"csrf_token": token, "kind": "share", "share": "0.4", "min_count": "5", "sentiment": ["anger"]}
    assert client.post(f"/alerts/schemes/{scheme_id}/rules", data=share).status_code == 303
    rumor = {"csrf_token": token, "kind": "rumor", "rate": "30", "probability": "0.7", "min_count": "4"}
    assert client.post(f"/alerts/schemes/{scheme_id}/rules", data=rumor).status_code == 303
    for wrong, said in (({"ratio": "inf"}, "ratio"), ({"min_count": "2.5"}, "min_count"), ({"levels": "5,x"}, "levels"),
                        ({"levels": "5,4,3"}, "III、II、I"), ({"kind": "rumour"}, "rumour"),
                        ({"elapsed": "0.5"}, "elapsed"),  # a clock rule's option
                        ({"kind": "share", "sentiment": ["anger", "angry"]}, "angry")):
        refused = client.post(f"/alerts/schemes/{scheme_id}/rules", follow_redirects=True,
                              data={"csrf_token": token, "kind": "spike", **wrong})
        assert "flash-error" in refused.get_data(as_text=True) and said in refused.get_data(as_text=True), wrong
    with app.extensions["crisiswatch"].sessions() as session:
        [scheme] = alerts.list_schemes(session)
        assert (scheme.name, scheme.text, scheme.places) == ("滨海台风停电", "停电 -演练", ["460100"])
        assert scheme.platforms == ["weibo", "gov"]
        rules = alerts.list_rules(session, scheme)
        assert [rule.kind for rule in rules] == ["keyword", "share", "rumor"]
        assert rules[1].params == {"share": 0.4, "min_count": 5, "sentiments": ["anger"]}
        assert rules[2].params == {"rate": 30.0, "probability": 0.7, "min_count": 4}
    removed = client.post(f"/alerts/schemes/{scheme_id}/rules/{rules[1].id}/remove", data={"csrf_token": token})
    listed = page(client, f"/alerts/schemes/{scheme_id}").split('id="rules"')[1].split("<h3>")[0]
    assert removed.status_code == 303 and "敏感词" in listed and "负面占比" not in listed


def test_a_schemes_recipients_are_added_in_its_page(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    with app.extensions["crisiswatch"].sessions() as session:
        city = accounts.find_organisation(session, CITY).id
        other = accounts.find_organisation(session, OTHER).id
        drafter = session.query(User).filter_by(username="drafter").one().id
    url = f"/alerts/schemes/{scheme_id}/recipients"
    no_file = client.post(url, data={"csrf_token": token, "org": city, "channel": "press-room"}, follow_redirects=True)
    assert "channels.toml" in no_file.get_data(as_text=True) and "flash-error" in no_file.get_data(as_text=True)
    with_channels(app)
    unknown = client.post(url, data={"csrf_token": token, "org": city, "channel": "nosuch"}, follow_redirects=True)
    assert f"渠道配置文件中 {CITY} 没有可接收预警通知的渠道 nosuch" in unknown.get_data(as_text=True)
    added = client.post(url, data={"csrf_token": token, "org": city, "channel": "press-room", "user": drafter})
    assert added.status_code == 303
    assert client.post(url, data={"csrf_token": token, "org": other, "on_escalation": "on"}).status_code == 303
    refused = client.post(url, data={"csrf_token": token, "org": city}, follow_redirects=True)
    assert "推送对象须指定渠道" in refused.get_data(as_text=True)
    not_theirs = {"csrf_token": token, "org": other, "channel": "x", "user": drafter}  # a person of another organisation
    assert client.post(url, data=not_theirs).status_code == 400
    assert client.post(url, data={"csrf_token": token, "org": "²", "channel": "x"}).status_code == 400
    shown = page(client, f"/alerts/schemes/{scheme_id}").split('id="recipients"')[1].split("<form")[0]
    assert f"{CITY} · press-room · drafter" in shown and f"{OTHER} · 全部渠道 · 升级时抄送" in shown
    settings = app.extensions["crisiswatch"].settings
    with settings.channels_file.open("a", encoding="utf-8") as file:  # a file channel takes notices too
        file.write('[[organisation]]\nname = "第三单位"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
                   'folder = "archive"\n')
    form = page(client, f"/alerts/schemes/{scheme_id}").split(f'action="{url}"')[1].split("</form>")[0]
    assert f'<optgroup label="{CITY}"><option value="press-room">press-room</option><option value="duty">' in form
    assert 'name="channel"' in form and "<input name=\"channel\"" not in form
    assert '<optgroup label="第三单位"><option value="archive">archive</option></optgroup>' in form
    other_client, other_token = client_of(app, "other")
    assert other_client.post(url, data={"csrf_token": other_token, "org": other, "channel": "x"}).status_code == 403


def test_a_recipient_is_removed_with_its_button_and_the_removal_audited(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    with_channels(app)
    url = f"/alerts/schemes/{scheme_id}/recipients"
    with app.extensions["crisiswatch"].sessions() as session:
        city = accounts.find_organisation(session, CITY).id
    for channel in ("press-room", "duty"):
        assert client.post(url, data={"csrf_token": token, "org": city, "channel": channel}).status_code == 303
    with app.extensions["crisiswatch"].sessions() as session:
        press, duty = session.scalars(select(AlertRecipient.id).order_by(AlertRecipient.id)).all()
    assert f'form="remove-recipient" name="recipient" value="{press}"' in page(client, f"/alerts/schemes/{scheme_id}")

    assert client.post(f"{url}/remove", data={"csrf_token": token, "recipient": press}).status_code == 303
    listed = page(client, f"/alerts/schemes/{scheme_id}").split('id="recipients"')[1].split("</ul>")[0]
    assert f"{CITY} · duty" in listed and "press-room" not in listed
    assert client.post(f"{url}/remove", data={"csrf_token": token, "recipient": press}).status_code == 404
    other_client, other_token = client_of(app, "other")
    assert other_client.post(f"{url}/remove", data={"csrf_token": other_token, "recipient": duty}).status_code == 403
    with app.extensions["crisiswatch"].sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.recipient_remove")).all()
        assert (entry.actor, entry.detail["org"], entry.detail["channel"]) == ("analyst", CITY, "press-room")


def test_states_steps_durations_and_figures_are_named_in_the_readers_language(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    scheme_page = page(client, f"/alerts/schemes/{scheme_id}")
    assert "统计窗口 30 分钟" in scheme_page and "window =" not in scheme_page and "1800" not in scheme_page
    assert "Window 30 min" in page(client, f"/alerts/schemes/{scheme_id}?lang=en")
    [alert_id] = check(app)
    shown = page(client, f"/alerts/{alert_id}?lang=zh")
    assert "<dt>统计窗口</dt><dd>30 分钟</dd>" in shown and "（秒）" not in shown
    assert "<dt>Window</dt><dd>30 min</dd>" in page(client, f"/alerts/{alert_id}?lang=en")
    assert client.post(f"/alerts/{alert_id}/close", data={"csrf_token": token}).status_code == 303
    refused = client.post(f"/alerts/{alert_id}/close?lang=zh", data={"csrf_token": token}, follow_redirects=True)
    assert "预警处于“已关闭”状态，不能关闭" in refused.get_data(as_text=True)
    with app.test_request_context("/?lang=zh"):
        assert [i18n.duration(s) for s in (900, 43200, 20400, 86400, 340 * 60 + 20)] == [
            "15 分钟", "12 小时", "5 小时 40 分钟", "1 天", "5 小时 40 分钟"]
    sentiments = alerts_ui.alert_figure
    with app.test_request_context("/?lang=en"):
        assert sentiments("evidence", "sentiments", ["anger", "anxiety"]) == ("Sentiments counted", "Anger, Anxiety")
        assert sentiments("evidence", "new", True) == ("New", "yes")


def test_the_alert_list_labels_each_cell_for_a_phone_and_a_missing_value_is_a_dash(app):
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    listed = page(client, "/alerts/")
    for name in ("级别", "状态", "监测方案", "规则", "帖子数", "预警时间", "处置时限"):
        assert f'<td data-label="{name}">' in listed, name
    style = client.get("/static/style.css").get_data(as_text=True)
    assert "table.alerts td[data-label]::before { content: attr(data-label)" in style
    shown = page(client, f"/alerts/{alert_id}")
    assert "<dd>-</dd>" not in shown and ">—</dd>" in shown and "—" in listed and "<td>-</td>" not in listed


def test_an_alert_shows_the_figures_that_reached_its_level_beside_the_latest(app):
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    shown = page(client, f"/alerts/{alert_id}")
    reached = shown.split("<h3>达到 III 级（黄色，较重） 时（")[1].split("</dl>")[0]
    assert '<dl class="level-reached">' in reached and "<dt>帖子数</dt><dd>6</dd>" in reached
    assert "<dt>基线预期</dt><dd>0.0</dd>" in reached and "<dt>统计窗口</dt><dd>30 分钟</dd>" in reached
    assert "<h3>最近更新（" in shown and "<dt>敏感词</dt><dd>爆炸</dd>" in shown.split("<h3>最近更新（")[1]
    english = page(client, f"/alerts/{alert_id}?lang=en")
    assert "<h3>When it reached Level III (yellow, serious) (" in english and "<h3>Latest update (" in english


def test_the_pages_in_english(app):
    client, token = client_of(app, "drafter")
    scheme_id = with_scheme(app, client, token)
    [alert_id] = check(app)
    assert "Monitoring schemes" in page(client, "/alerts/schemes/?lang=en")
    assert "Sensitive words" in page(client, f"/alerts/schemes/{scheme_id}")
    listed = page(client, "/alerts/")
    assert "Level III (yellow, serious)" in listed and "To assess" in listed and ">Alerts <span" in listed
    shown = page(client, f"/alerts/{alert_id}")
    assert "6 posts against 0.0 expected" in shown and "Acknowledge" in shown and "Open an incident from it" in shown


def test_another_organisations_alerts_and_schemes_are_403_and_an_admin_sees_all(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    [alert_id] = check(app)
    other, other_token = client_of(app, "other")
    assert other.get(f"/alerts/{alert_id}").status_code == 403
    assert other.post(f"/alerts/{alert_id}/close", data={"csrf_token": other_token}).status_code == 403
    assert other.get(f"/alerts/schemes/{scheme_id}").status_code == 403
    assert other.post(f"/alerts/schemes/{scheme_id}/remove", data={"csrf_token": other_token}).status_code == 403
    assert "没有预警" in page(other, "/alerts/") and other.get("/api/alerts/count").get_json() == {"open": 0}
    approver, _ = client_of(app, "approver")  # of the same organisation, but not a role that handles alerts
    assert approver.get("/alerts/").status_code == 403 and approver.get("/api/alerts/count").status_code == 403
    assert 'id="alert-count"' not in page(approver, "/incidents/")
    admin, _ = client_of(app, "admin")
    assert admin.get("/api/alerts/count").get_json() == {"open": 1} and f"/alerts/{alert_id}" in page(admin, "/alerts/")
    assert app.test_client().get("/api/alerts/count").status_code == 401


def test_every_alert_form_needs_its_csrf_token(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    [alert_id] = check(app)
    for url in ("/alerts/schemes/", f"/alerts/schemes/{scheme_id}", f"/alerts/schemes/{scheme_id}/rules",
                f"/alerts/schemes/{scheme_id}/rules/1/remove", f"/alerts/schemes/{scheme_id}/remove",
                f"/alerts/{alert_id}/acknowledge", f"/alerts/{alert_id}/close", f"/alerts/{alert_id}/incident"):
        assert client.post(url, data={"name": "x", "kind": "keyword", "words": "x"}).status_code == 400, url
    assert client.get("/api/alerts/count").get_json() == {"open": 1}  # nothing changed
    assert "滨海台风" in page(client, "/alerts/schemes/")
    for url in ("/alerts/schemes/", f"/alerts/schemes/{scheme_id}", f"/alerts/{alert_id}"):
        shown = page(client, url)
        assert shown.count('name="csrf_token"') == shown.count('method="post"'), url  # every form carries it


def test_the_top_bar_shows_the_count_and_polls_it_from_a_static_script(app):
    client, token = client_of(app, "analyst")
    listed = page(client, "/alerts/")
    assert 'id="alert-count" data-url="/api/alerts/count" hidden></span>' in listed
    assert 'src="/static/alerts.js"' in listed and "<script>" not in listed
    with_scheme(app, client, token)
    check(app)
    assert 'id="alert-count" data-url="/api/alerts/count">1</span>' in page(client, "/incidents/")
    search = page(client, "/?q=停电")
    assert ">1</span>" in search and "<script" not in search  # the search page has no script at all
    script = client.get("/static/alerts.js").get_data(as_text=True)
    assert "badge.dataset.url" in script and "setInterval" in script


def test_an_alert_opens_an_incident_whose_page_lists_it_with_the_times_to_the_answer(app):
    client, token = client_of(app, "drafter")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    opened = client.post(f"/alerts/{alert_id}/incident", data={"csrf_token": token})
    assert opened.status_code == 303 and "/incidents/" in opened.headers["Location"]
    incident_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token}).status_code == 303
    with app.extensions["crisiswatch"].sessions.begin() as session:
        drafter = session.query(User).filter_by(username="drafter").one()
        release = flow.create_release(session, drafter, flow.get_incident(session, incident_id), "情况通报",
                                      "变电站起火已扑灭。", "weibo", [])
        release.published_at = datetime.now(timezone.utc).replace(tzinfo=None)  # as publishing sets it
        release_id = release.id
    answered = client.post(f"/alerts/{alert_id}/answer", data={"csrf_token": token, "release": str(release_id)})
    assert answered.status_code == 303
    assert "已回应" in page(client, f"/alerts/{alert_id}")
    incident = page(client, f"/incidents/{incident_id}")
    section = incident.split('id="alerts"')[1].split("</section>")[0]
    assert f'href="/alerts/{alert_id}"' in section and "首条帖子" in section and "发布回应" in section
    assert section.count("分钟后") == 3  # the alert after the first post, the acknowledgement, the answer
    with app.extensions["crisiswatch"].sessions() as session:
        assert session.get(Alert, alert_id).release_id == session.get(Release, release_id).id
    admin, _ = client_of(app, "admin")  # of another organisation: sees every alert, and this one
    assert f'href="/alerts/{alert_id}"' in page(admin, f"/incidents/{incident_id}")
    with app.extensions["crisiswatch"].sessions.begin() as session:  # the incident named to another organisation
        other = accounts.find_organisation(session, OTHER)
        session.get(Release, release_id).required_org_ids = [other.id]
    other_client, _ = client_of(app, "other")  # sees the release, not the alert of another organisation
    shown = page(other_client, f"/incidents/{incident_id}")
    assert f"/releases/{release_id}" in shown and f'href="/alerts/{alert_id}"' not in shown


def test_the_incident_page_reads_its_releases_and_alerts_in_one_session(app):
    client, token = client_of(app, "drafter")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    opened = client.post(f"/alerts/{alert_id}/incident", data={"csrf_token": token})
    begun = {}  # id -> session, kept so that no id is reused
    event.listen(app.extensions["crisiswatch"].sessions, "after_begin",
                 lambda session, *_: begun.setdefault(id(session), session))
    shown = page(client, opened.headers["Location"])
    assert f'href="/alerts/{alert_id}"' in shown
    assert len(begun) == 2  # the login's check of the user, then the page's own


def test_an_alert_is_linked_to_the_incident_opened_from_it_or_to_one_the_user_sees(app):
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        theirs = flow.create_incident(session, session.query(User).filter_by(username="other").one(), "海口停电").id
    opened = client.post(f"/alerts/{alert_id}/incident", data={"csrf_token": token})
    incident_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    section = page(client, f"/incidents/{incident_id}").split('id="alerts"')[1].split("</section>")[0]
    assert f'href="/alerts/{alert_id}"' in section and section.count("分钟后") == 1  # linked, not yet acknowledged
    shown = page(client, f"/alerts/{alert_id}")
    assert f'<dt>所属事件</dt><dd><a href="/incidents/{incident_id}">滨海台风</a>' in shown
    assert f'<option value="{incident_id}" selected>滨海台风' in shown
    assert "海口停电" not in shown  # only the incidents it sees

    with app.extensions["crisiswatch"].sessions.begin() as session:
        incident_ids = {incident_id, flow.create_incident(session, session.query(User).filter_by(
            username="analyst").one(), "滨海台风次生灾害").id}
    second = max(incident_ids)
    linked = client.post(f"/alerts/{alert_id}/link", data={"csrf_token": token, "incident": str(second)})
    assert linked.status_code == 303
    assert f'href="/alerts/{alert_id}"' in page(client, f"/incidents/{second}")
    assert f'href="/alerts/{alert_id}"' not in page(client, f"/incidents/{incident_id}")
    refused = client.post(f"/alerts/{alert_id}/link", data={"csrf_token": token, "incident": str(theirs)},
                          follow_redirects=True).get_data(as_text=True)
    assert f"事件 {theirs} 不是你的单位建立或参与的事件" in refused and "flash-error" in refused
    assert client.post(f"/alerts/{alert_id}/link", data={"csrf_token": token, "incident": "x"}).status_code == 400
    assert client.post(f"/alerts/{alert_id}/link", data={"incident": str(second)}).status_code == 400  # CSRF
    other, other_token = client_of(app, "other")
    assert other.post(f"/alerts/{alert_id}/link", data={"csrf_token": other_token,
                                                         "incident": str(theirs)}).status_code == 403
    with app.extensions["crisiswatch"].sessions() as session:
        assert session.get(Alert, alert_id).incident_id == second


def test_an_escalated_alert_says_to_whom_and_when(app):
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    [alert_id] = check(app)
    assert "已升级至" not in page(client, "/alerts/") and "已升级至" not in page(client, f"/alerts/{alert_id}")
    with app.extensions["crisiswatch"].sessions.begin() as session:
        province = accounts.create_organisation(session, "滨海省人民政府", "government", "province")
        accounts.find_organisation(session, CITY).parent_id = province.id
        session.flush()
        at = datetime.now(timezone.utc) + timedelta(hours=3)  # level III waits 2 hours
        [escalated] = alert_outbox.escalate_due(session, {}, at)
        assert escalated.id == alert_id
    when = at.astimezone(timezone(timedelta(hours=8))).strftime("%m-%d %H:%M")
    for url in ("/alerts/", f"/alerts/{alert_id}"):
        shown = page(client, url)
        assert "已升级至 滨海省人民政府（" in shown and when in shown.split("已升级至")[1], url
    assert "Escalated to 滨海省人民政府 (" in page(client, f"/alerts/{alert_id}?lang=en")


def test_the_organisation_an_alert_is_escalated_to_and_a_department_copied_see_and_handle_it(app):
    client, token = client_of(app, "analyst")
    scheme_id = with_scheme(app, client, token)
    [alert_id] = check(app)
    with app.extensions["crisiswatch"].sessions.begin() as session:
        province = accounts.create_organisation(session, "滨海省人民政府", "government", "province")
        department = accounts.create_organisation(session, "滨海市应急管理局", "government", "city")
        accounts.find_organisation(session, CITY).parent_id = province.id
        for name, org in (("province", province), ("department", department)):
            accounts.create_user(session, name, name, f"pw-{name}-0123456789", org, ["analyst"])
        alert_outbox.add_recipient(session, alerts.find_scheme(session, "滨海台风"), department, "duty",
                                   on_escalation=True)
    up, up_token = client_of(app, "province")
    copied, _ = client_of(app, "department")
    for someone in (up, copied):
        assert someone.get(f"/alerts/{alert_id}").status_code == 403
        assert someone.get("/api/alerts/count").get_json() == {"open": 0}

    with app.extensions["crisiswatch"].sessions.begin() as session:  # the province has no channel: no notice
        alert_outbox.escalate_due(session, {}, datetime.now(timezone.utc) + timedelta(hours=3))
    for someone in (up, copied):
        assert "滨海市变电站爆炸了 5" in page(someone, f"/alerts/{alert_id}")  # the escalation notice's link
        assert someone.get("/api/alerts/count").get_json() == {"open": 1}
        assert f'href="/alerts/{alert_id}"' in page(someone, "/alerts/")
        assert someone.get(f"/alerts/schemes/{scheme_id}").status_code == 403  # the alert, not the scheme
    assert up.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": up_token}).status_code == 303
    assert "处置中" in page(up, f"/alerts/{alert_id}")
    other, _ = client_of(app, "other")
    assert other.get(f"/alerts/{alert_id}").status_code == 403 and "没有预警" in page(other, "/alerts/")


def test_a_step_whose_write_fails_is_the_error_page_with_the_top_bar_not_a_bare_500(app, monkeypatch):
    """The error page's top bar reads the open alerts in a fresh session, not in the one
    the failed flush left to be rolled back."""
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    [alert_id] = check(app)

    def acknowledge(session, alert, *, actor):
        session.add(Alert(rule_id=alert.rule_id))  # no key: the database refuses it
        session.flush()

    monkeypatch.setattr(alerts, "acknowledge", acknowledge)
    failed = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert failed.status_code == 500
    assert 'data-url="/api/alerts/count">1</span>' in failed.get_data(as_text=True)


def test_an_alert_that_names_a_rumor_cluster_links_to_how_it_spread(app):
    client, token = client_of(app, "analyst")
    with_scheme(app, client, token)
    alert_id, = check(app)
    assert "/spread/" not in page(client, f"/alerts/{alert_id}")  # a keyword's alert names no cluster
    cluster = app.extensions["crisiswatch"].store.get_post(1)["cluster"]
    with app.extensions["crisiswatch"].sessions.begin() as session:  # as a rumor-cluster rule's evidence names it
        alert = session.get(Alert, alert_id)
        alert.evidence = {**alert.evidence, "cluster": cluster}
    assert f'id="alert-spread" href="/spread/cluster/{cluster}"' in page(client, f"/alerts/{alert_id}")
    assert "变电站爆炸" in page(client, f"/spread/cluster/{cluster}")


def test_a_rules_window_is_said_in_words_to_the_second_where_a_rule_and_its_alerts_are_shown(app):
    client, token = client_of(app, "analyst")
    made = client.post("/alerts/schemes/", data={"csrf_token": token, "name": "滨海台风", "query": "滨海市"})
    scheme_id = int(made.headers["Location"].rsplit("/", 1)[1])
    added = client.post(f"/alerts/schemes/{scheme_id}/rules", data={
        "csrf_token": token, "kind": "spike", "window": "615s", "min_count": "1"})
    assert added.status_code == 303
    assert "统计窗口 10 分钟 15 秒" in page(client, f"/alerts/schemes/{scheme_id}?lang=zh")
    assert "Window 10 min 15 s" in page(client, f"/alerts/schemes/{scheme_id}?lang=en")
    [alert_id] = check(app)  # the spike's key is its window, 615s
    for url in ("/alerts/?lang=zh", f"/alerts/{alert_id}"):
        shown = page(client, url)
        assert "声量突增 · 10 分钟 15 秒" in shown and "615s" not in shown, url
    assert "Spike · 10 min 15 s" in page(client, "/alerts/?lang=en")
