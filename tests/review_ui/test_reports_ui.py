"""The reports page on a real home (tests/desk/report_home.py): a report made from the form
with the command line's checks, listed, shown in its frame, downloaded under its Chinese
name, seen only by its organisation, and sent to a webhook on loopback once."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

import pytest

from core.schema import CHINA_TZ
from crisiswatch import publishing
from desk.reports import FORMATS
from review_ui import create_app
from tests.conftest import TEST_ORG, csrf_token, html, logged_in_client
from tests.desk.receivers import serving
from tests.desk.report_home import report_home

SECRET = "report-secret-0123456789abcdef"


@pytest.fixture
def app(tmp_path):
    return create_app(report_home(tmp_path / "home"))


def make(client, **fields):
    token = csrf_token(html(client.get("/reports/")))
    return client.post("/reports/", data={"csrf_token": token, "kind": "daily", "incident": "", "query": "",
                                          "date": "", "since": "", "until": "", **fields})


def test_a_report_is_made_listed_shown_and_downloaded(app):
    client = logged_in_client(app, roles=("analyst",))
    page = html(client.get("/reports/"))
    assert 'href="/reports/">报告</a>' in page and 'id="report-form"' in page and "暂无报告" in page

    made = make(client, date="2024-07-24")
    assert made.status_code == 303
    report = made.headers["Location"]
    assert re.fullmatch(r"/reports/\d+", report)
    shown = html(client.get(report))
    assert "<h1>舆情日报</h1>" in shown and "本期共监测到信息12条" in shown
    assert f'<iframe class="report-frame" sandbox title="舆情日报" src="{report}/file.html?view=1">' in shown
    assert f'href="{report}/file.html" download' in shown
    listed = html(client.get("/reports/"))
    assert f'<a href="{report}">舆情日报</a>' in listed and "<td>日报</td>" in listed and "<td>12</td>" in listed
    assert "2024-07-24 00:00 – 2024-07-24 23:59" in listed

    download = client.get(f"{report}/file.html")
    assert download.mimetype == "text/html" and "舆情日报" in html(download)
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote('舆情日报-2024-07-24.html')}" in disposition
    framed = client.get(f"{report}/file.html?view=1")
    assert framed.headers["Content-Disposition"].startswith("inline;")
    assert framed.headers["Content-Security-Policy"].startswith("sandbox;")
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(f"{report}/file.exe").status_code == 404
    for form, media_type in FORMATS.items():  # each format made from the kept figures
        made_file = client.get(f"{report}/file.{form}")
        assert made_file.headers["Content-Type"] == media_type and made_file.data, form
        assert made_file.headers["Content-Disposition"].endswith(quote(f"-2024-07-24.{form}")), form

    special = make(client, kind="special", incident="1")
    assert special.status_code == 303 and "舆情专报：7·24 停电" in html(client.get(special.headers["Location"]))
    assert "Reports" in html(client.get("/reports/?lang=en"))


def test_the_form_takes_the_options_as_the_command_line_does(app):
    client = logged_in_client(app, roles=("analyst",))
    for fields, said in (({"kind": "special"}, "专报须选择一个事件"),
                         ({"kind": "daily", "since": "2024-07-24T08:00"}, "“since/until”只适用于 flash 报告"),
                         ({"kind": "flash", "date": "2024-07-24"}, "“date”只适用于 daily 报告"),
                         ({"kind": "special", "incident": "99"}, "找不到该事件。")):
        refused = make(client, **fields)
        assert refused.status_code == 303 and refused.headers["Location"] == "/reports/"
        assert said in html(client.get("/reports/")), fields
    assert make(client, kind="weekly").status_code == 400
    assert make(client, date="2024-13-01").status_code == 400
    assert "暂无报告" in html(client.get("/reports/"))
    reader = logged_in_client(app, roles=("publisher",))  # sees and sends, does not make
    assert 'id="report-form"' not in html(reader.get("/reports/"))
    assert make(reader, date="2024-07-24").status_code == 403


def test_a_report_is_seen_by_its_organisation_and_sent_to_its_channels_once(app):
    analyst = logged_in_client(app, roles=("analyst",))
    report = make(analyst, date="2024-07-24").headers["Location"]
    outsider = logged_in_client(app, roles=("admin",))  # an admin sees every report
    assert outsider.get(report).status_code == 200
    from tests.conftest import add_user, log_in

    other = app.test_client()
    assert log_in(other, "other", add_user(app, "other", ("analyst",), org="别的单位")).status_code == 303
    assert other.get(report).status_code == 404 and other.get(f"{report}/file.html").status_code == 404
    assert report not in html(other.get("/reports/"))

    settings = app.extensions["crisiswatch"].settings
    with serving() as receiver:
        settings.channels_file.write_text(
            f'[[organisation]]\nname = "{TEST_ORG}"\n\n[[organisation.channel]]\nname = "duty"\nkind = "webhook"\n'
            f'url = "{receiver.url("/duty")}"\nsecret = "{SECRET}"\n', encoding="utf-8")
        token = csrf_token(html(analyst.get(report)))
        assert analyst.post(f"{report}/send", data={"csrf_token": token}).status_code == 403
        publisher = logged_in_client(app, roles=("publisher",))
        page = html(publisher.get(report))
        sent = publisher.post(f"{report}/send", data={"csrf_token": csrf_token(page)})
        assert sent.status_code == 303 and "已加入推送队列：duty" in html(publisher.get(report))
        publishing.deliver_alerts(settings)
        publishing.deliver_alerts(settings)
        [got] = receiver.got("/duty")
    assert got["title"] == "舆情日报" and got["link"] == report and "本期共监测到信息12条" in got["text"]
    assert f"{TEST_ORG} / duty</td>" in html(publisher.get(report)) and "已送达" in html(publisher.get(report))


def test_a_report_of_an_incident_with_an_odd_title_is_downloaded_under_a_name_of_one_line(app):
    from desk.tables import Incident

    with app.extensions["crisiswatch"].sessions.begin() as session:  # a title as an API or a scenario may give it
        session.get(Incident, 1).title = '台风"海燕"\r\n抢修/进展\\汇总\u202egpj.exe'
    client = logged_in_client(app, roles=("analyst",))
    report = make(client, kind="special", incident="1").headers["Location"]
    for form in ("html", "docx"):
        download = client.get(f"{report}/file.{form}")
        assert download.status_code == 200, form
        name = quote('舆情专报：台风"海燕"-抢修-进展-汇总-gpj.exe-')  # and the day it was made, not its window's first
        made = datetime.now(CHINA_TZ).date().isoformat()
        assert f"filename*=UTF-8''{name}{made}.{form}" in download.headers["Content-Disposition"], form
    assert client.get(f"{report}/file.html?view=1").status_code == 200


def test_a_report_made_on_the_page_shows_only_the_alerts_its_maker_sees(app):
    from tests.conftest import add_user, log_in

    other = app.test_client()  # another organisation's analyst: 停电监测 is 滨海供电局's scheme
    assert log_in(other, "other", add_user(app, "other", ("analyst",), org="别的单位")).status_code == 303
    for fields in ({"date": "2024-07-24"}, {"kind": "special", "incident": "1"}):
        page = html(other.get(make(other, **fields).headers["Location"] + "/file.html"))
        assert "舆情" in page and "停电监测" not in page and "III级预警：爆炸" not in page, fields
    admin = logged_in_client(app, roles=("admin",))  # who sees every alert
    page = html(admin.get(make(admin, kind="special", incident="1").headers["Location"] + "/file.html"))
    assert "停电监测" in page and "III级预警：爆炸" in page
