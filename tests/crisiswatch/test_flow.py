"""The whole flow through the command line: import real data, tag, index, search, status."""

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from core.schema import CHINA_TZ
from core.store import Store
from crisiswatch.cli import main
from review_ui import create_app
from tests.conftest import logged_in_client


def run(home, *args):
    result = CliRunner().invoke(main, [*args, "--home", str(home.home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_import_tag_index_search(home_with_models, ced_slice, covid_day):
    home = home_with_models
    imported = json.loads(run(home, "import", str(ced_slice), str(covid_day), "--json").stdout)
    assert imported["files"] == 2 and imported["imported"] > 15_000
    assert imported["rejected"] == len(imported["rejections"]) and all("empty text" in r for r in imported["rejections"])

    assert "tagged" in run(home, "tag").stdout
    assert "indexed" in run(home, "index").stdout
    status = json.loads(run(home, "status", "--json").stdout)
    weibo = status["posts"]["weibo"]
    assert weibo["stored"] == weibo["tagged"] == weibo["indexed"] == imported["imported"]
    assert status["index"]["documents"] == imported["imported"]
    assert not status["models"]["rumor"]["fallback"] and status["models"]["rumor"]["held_out_macro_f1"] > 0.8
    assert sum(status["tagged_by"].values()) == imported["imported"]

    page = json.loads(run(home, "search", "武汉", "--json", "--per-page", "5").stdout)
    assert page["total"] > 1000 and len(page["hits"]) == 5
    assert all("武汉" in hit["text"] and "<mark>武汉</mark>" in hit["snippet_html"] for hit in page["hits"])
    assert {f["value"] for f in page["facets"]["platform"]} == {"weibo"}
    assert sum(f["count"] for f in page["facets"]["rumor"]) == page["total"]

    day = json.loads(run(home, "search", "武汉", "--since", "2020-01-21", "--until", "2020-01-21", "--json").stdout)
    assert day["days"] == [{"day": "2020-01-21", "count": day["total"]}]
    angry = json.loads(run(home, "search", "--sentiment", "anger", "--sort", "newest", "--json").stdout)
    assert angry["total"] > 0 and all(h["tags"]["sentiment"] == "anger" for h in angry["hits"])

    text = run(home, "search", "武汉", "--rumor").stdout
    assert "posts match" in text and "rumor" in text
    newest = json.loads(run(home, "search", "武汉", "--sort", "newest", "--per-page", "1", "--json").stdout)["hits"][0]
    shown = datetime.fromisoformat(newest["created_at"]).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    assert f"#{newest['id']} [weibo] {shown}" in run(home, "search", "武汉", "--sort", "newest", "--per-page", "1").stdout

    # the UI's HTTP interface answers the same search from the same home
    client = logged_in_client(create_app(home))
    assert client.get("/api/search?q=武汉&per_page=5").get_json()["total"] == page["total"]
    html = client.get("/?q=武汉").get_data(as_text=True)
    assert "<mark>武汉</mark>" in html and f"共 {page['total']:,} 条" in html


def test_bad_input_gets_a_clear_error(home):
    result = CliRunner().invoke(main, ["search", "x", "--since", "not-a-date", "--home", str(home.home)])
    assert result.exit_code == 2 and "Invalid value for '--since'" in result.output and "is not a date" in result.output
    result = CliRunner().invoke(main, ["search", "x", "--platform", "myspace", "--home", str(home.home)])
    assert result.exit_code == 1 and "unknown platform" in result.output
    result = CliRunner().invoke(main, ["import", __file__, "--encoding", "bogus", "--home", str(home.home)])
    assert result.exit_code == 2 and "'bogus' is not an encoding" in result.output
    for command in ("serve", "demo"):  # a port past 65535 was an OverflowError's traceback
        result = CliRunner().invoke(main, [command, "--port", "99999", "--home", str(home.home)])
        assert result.exit_code == 2 and "99999 is not in the range 1<=x<=65535" in result.output


@pytest.mark.parametrize("option, value, allowed", [
    ("--sentiment", "joy", "anger, anxiety, positive, weak_negative"),
    ("--emotion", "happy", "anger, disgust, fear,"),
    ("--topic", "nosuch", "outage_report, restoration,"),
])
def test_search_refuses_an_unknown_label_naming_the_allowed_ones(home, option, value, allowed):
    result = CliRunner().invoke(main, ["search", "x", option, value, "--home", str(home.home)])
    assert result.exit_code == 2 and f"unknown {option[2:]} '{value}'; use one of {allowed}" in result.output


def test_status_shows_a_jobs_last_run_in_china_time_to_the_second(home):
    store = Store(home.database_url)
    store.finish_crawl_run(store.start_crawl_run("demo-news", "news"), status="ok", pages=3, stored=2,
                           duplicates=0, rejected=0)
    [last] = store.last_crawl_runs()
    store.close()
    started = datetime.fromisoformat(last["started_at"]).astimezone(CHINA_TZ)
    output = CliRunner().invoke(main, ["status", "--home", str(home.home)]).output
    assert f"last run {started:%Y-%m-%d %H:%M:%S} (China time): 3 pages, 2 new" in output
    assert last["started_at"] not in output


def test_every_command_explains_itself():
    for command in ["demo", "import", "crawl", "tag", "index", "serve", "status", "search", "train", "schedule",
                    "org add", "user add", "user roles", "user unlock", "user password", "user list", "audit verify",
                    "audit export"]:
        result = CliRunner().invoke(main, [*command.split(), "--help"])
        assert result.exit_code == 0 and "--home" in result.output, command
