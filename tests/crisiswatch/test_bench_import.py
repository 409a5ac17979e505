"""`crisiswatch bench import`: real posts from files to searchable, in a temporary home."""

import json

import pytest

from tests.conftest import DATA, crisiswatch, need

pytestmark = pytest.mark.slow  # every test here starts a process or a server


def test_bench_import_times_every_stage_of_a_slice(home):
    need(DATA / "weibo_covid_2020")
    result = json.loads(crisiswatch("bench", "import", "--limit", "300", "--json", home=home).stdout)
    assert result["posts"] == 300
    for key in ("import_posts_per_s", "tag_posts_per_s", "index_posts_per_s", "total_s", "peak_rss_mb"):
        assert result[key] > 0, key
    assert result["total_s"] >= result["import_s"] + result["tag_s"] + result["index_s"] - 0.2
    assert not (home.home / "crisiswatch.db").exists()  # the home's own store is left alone
