"""`crisiswatch bench crawl`: a real crawl of a loopback site of real posts, and its figures."""

import json
import math

import pytest

from crisiswatch.bench import ARTICLES_PER_LIST
from tests.conftest import DATA, crisiswatch, need

pytestmark = pytest.mark.slow  # every test here starts a process or a server


def test_bench_crawl_stores_every_article_page(home):
    need(DATA / "weibo_covid_2020")
    result = json.loads(crisiswatch("bench", "crawl", "--pages", "200", "--json", home=home).stdout)
    lists = math.ceil(200 / ARTICLES_PER_LIST)
    assert result["pages"] == 200 + lists
    assert result["stored"] == 200
    assert result["pages_per_s"] > 0 and result["peak_rss_mb"] > 0
