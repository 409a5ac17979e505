"""crisiswatch report: the figures as JSON count what crisiswatch search counts for the same
query and window, the HTML page written to a file, and the options each kind takes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, cli
from tests.desk.report_home import DAY_BEFORE, ON_THE_DAY, QUERY, report_home


def test_a_reports_total_is_the_searchs_for_the_same_query_and_window(tmp_path):
    home = report_home(tmp_path)
    daily = json.loads(cli("report", "daily", "--date", "2024-07-24", "--json", home=home).stdout)
    found = json.loads(cli("search", "--since", "2024-07-24", "--until", "2024-07-24", "--json", home=home).stdout)
    assert daily["total_posts"] == found["total"] == ON_THE_DAY
    assert {"kind", "query", "since", "until", "summary", "volume", "rumors", "alerts"} <= set(daily)

    before = daily["volume"]["previous"]
    found = json.loads(cli("search", "--since", before["since"][:19], "--until", before["until"][:26], "--json",
                           home=home).stdout)
    assert found["total"] == before["total"] == DAY_BEFORE

    flash = json.loads(cli("report", "flash", "--query", QUERY, "--since", "2024-07-24T20:00",
                           "--until", "2024-07-24T21:00", "--json", home=home).stdout)
    found = json.loads(cli("search", QUERY, "--since", "2024-07-24T20:00", "--until", "2024-07-24T21:00", "--json",
                           home=home).stdout)
    assert flash["total_posts"] == found["total"] == 3

    special = json.loads(cli("report", "special", "--incident", "1", "--json", home=home).stdout)
    found = json.loads(cli("search", QUERY, "--since", special["since"][:19], "--json", home=home).stdout)
    assert special["query"] == QUERY and special["total_posts"] == found["total"]


def test_the_html_report_is_written_and_each_option_goes_with_its_kind(tmp_path):
    home = report_home(tmp_path)
    out = tmp_path / "daily.html"
    written = cli("report", "daily", "--date", "2024-07-24", "--out", str(out), home=home)
    assert written.stdout == f"舆情日报: {ON_THE_DAY} posts, written to {out}\n"
    assert "<h1>舆情日报</h1>" in out.read_text(encoding="utf-8")

    unknown = cli("report", "daily", "--format", "odt", home=home, check=False)
    assert unknown.exit_code == 2 and "'odt' is not one of 'docx', 'pdf', 'html'" in unknown.stderr
    refused = [(("special",), "a special report needs --incident"),
               (("daily", "--incident", "1"), "--incident goes with special reports"),
               (("special", "--incident", "1", "--query", "x"), "--query goes with daily and flash"),
               (("flash", "--date", "2024-07-24"), "--date goes with daily reports"),
               (("daily", "--since", "2024-07-24"), "--since/--until goes with flash reports"),
               (("daily", "--date", "24/7"), "'24/7' is not a date"),
               (("daily", "--date", "9999-12-31"), "9999-12-31 is out of range")]
    for args, message in refused:
        result = cli("report", *args, home=home, check=False)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
    missing = cli("report", "special", "--incident", "9", home=home, check=False)
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ")


def test_the_command_finds_the_china_map_without_loading_the_review_ui():
    code = ("import sys\nfrom crisiswatch.commands.reports import _china_map\n"
            "print(_china_map(), sorted({name.split('.')[0] for name in sys.modules} & {'flask', 'review_ui'}))\n")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == f"{REPO / 'review_ui' / 'static' / 'vendor' / 'china-map'} []"
