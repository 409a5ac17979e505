"""`crisiswatch bench reports`: its small pieces (the benchmark itself is run on demand)."""

from datetime import datetime, timedelta, timezone

from core.settings import Settings
from core.schema import CHINA_TZ
from crisiswatch.bench_reports import spread_over, stretch_start
from tests.conftest import cli


def test_the_posts_are_spread_evenly_over_one_china_time_day_in_utc():
    times = spread_over(4, datetime(2020, 7, 1, tzinfo=CHINA_TZ))
    assert times[0] == datetime(2020, 6, 30, 16, 0) and times[0].tzinfo is None
    assert [b - a for a, b in zip(times, times[1:])] == [timedelta(hours=6)] * 3


def test_the_incidents_stretch_is_the_last_one_holding_the_wanted_posts_with_the_word():
    times = [datetime(2020, 7, 1, hour, tzinfo=timezone.utc) for hour in range(6)]
    texts = ["口罩", "无关", "买口罩", "无关", "口罩断货", "无关"]
    assert stretch_start(texts, times, "口罩", 2) == times[2]
    assert stretch_start(texts, times, "口罩", 1) == times[4]
    assert stretch_start(texts, times, "口罩", 9) == times[0]  # fewer than wanted: the whole day


def test_without_the_corpus_it_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("CRISISWATCH_DATA", str(tmp_path / "nothing"))
    result = cli("bench", "reports", home=Settings.load(tmp_path / "home"), check=False)
    assert result.exit_code == 1 and f"no corpus at {tmp_path / 'nothing' / 'weibo_covid_2020'}" in result.stderr
