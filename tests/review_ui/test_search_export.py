"""The search page's CSV export, on a home made by the real import and index commands."""

from __future__ import annotations

import csv
import io
import json
import re
import resource
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from core.settings import Settings
from desk import export
from review_ui import create_app
from tests.conftest import DATA, cli, crisiswatch, html, logged_in_client, need


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Settings:
    """A real day of the Weibo corpus (about 10,000 posts), imported and indexed."""
    home = Settings.load(tmp_path_factory.mktemp("export") / "home").ensure_home()
    cli("import", str(need(DATA / "weibo_covid_2020" / "2020-01-21.csv.gz")), home=home)
    cli("index", home=home)
    return home


@pytest.fixture(scope="module")
def app(home):
    app = create_app(home)
    app.config["TESTING"] = True
    return app


def csv_rows(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def search_total(home, *args) -> int:
    return json.loads(cli("search", *args, "--json", home=home).stdout)["total"]


@pytest.mark.parametrize("query, args", [
    ("q=武汉&sort=newest&page=3&per_page=10", ["武汉", "--sort", "newest"]),
    ("q=肺炎 -武汉&until=2020-01-21&sort=engagement", ["肺炎 -武汉", "--until", "2020-01-21", "--sort", "engagement"]),
    ("q=钟南山", ["钟南山"]),
])
def test_the_download_holds_every_page_of_the_search(app, home, query, args):
    response = logged_in_client(app).get("/export.csv?" + query)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="crisiswatch-search-')
    assert response.is_streamed
    header, *rows = csv_rows(response)
    assert header == list(export.COLUMNS)
    assert len(rows) == search_total(home, *args) > 10
    assert len({row[0] for row in rows}) == len(rows)


def test_the_search_page_links_its_query_to_the_export(app):
    page = html(logged_in_client(app).get("/?q=武汉&sort=newest&page=2&per_page=10&platform=weibo"))
    url = urlsplit(unescape(re.search(r'<a class="export" href="([^"]+)"', page).group(1)))
    assert url.path == "/export.csv"
    assert parse_qs(url.query) == {"q": ["武汉"], "sort": ["newest"], "per_page": ["10"], "platform": ["weibo"]}
    assert "导出 CSV" in page


def test_the_cap(app, monkeypatch):
    monkeypatch.setattr(export, "MAX_ROWS", 50)
    client = logged_in_client(app)
    assert len(csv_rows(client.get("/export.csv?q=武汉"))) == 1 + 50
    assert "导出前 50 条（CSV）" in html(client.get("/?q=武汉"))


def test_a_login_is_needed(app):
    response = app.test_client().get("/export.csv?q=武汉")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_a_refused_query_goes_back_to_the_search_page_that_says_why(app):
    client = logged_in_client(app)
    response = client.get("/export.csv?q=武汉&sentiment=joy")
    assert response.status_code in (302, 303)
    assert client.get(response.headers["Location"]).status_code == 400


def test_the_command_line_writes_the_same_file(home, tmp_path):
    target = tmp_path / "武汉.csv"
    said = cli("search", "武汉", "--sort", "newest", "--platform", "weibo", "--csv", str(target), home=home).stdout
    total = search_total(home, "武汉", "--platform", "weibo")
    assert said.strip() == f"{total} posts match; written to {target}"
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and content.count(b"\r\n") >= total + 1
    assert len(list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))) == 1 + total


def test_a_file_the_command_line_cannot_write_is_an_error_not_a_traceback(home, tmp_path):
    result = cli("search", "武汉", "--csv", str(tmp_path / "no-such-folder" / "x.csv"), home=home, check=False)
    assert result.exit_code == 1 and "error: cannot write" in result.stderr and "no-such-folder" in result.stderr


def test_an_export_stopped_half_way_leaves_no_file_that_looks_whole(home, tmp_path):
    """The file grows past what the system lets the process write: the command says so, and
    the rows written so far are removed, not left as if they were all the results."""
    target = tmp_path / "武汉.csv"
    result = crisiswatch("search", "武汉", "--csv", str(target), home=home, check=False,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000)))
    assert result.returncode == 1 and "error: cannot write" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()
