"""`crisiswatch bench alerts`: a timeline of real posts with bursts, fed through the alert rules."""

import json

import pytest

from crisiswatch.bench import corpus_texts
from crisiswatch.bench_alerts import POOL, live_delays
from tests.conftest import DATA, crisiswatch, need

pytestmark = pytest.mark.slow  # every test here starts a process


def test_bench_alerts_finds_and_delivers_every_burst_of_a_short_timeline(home):
    need(DATA / "weibo_covid_2020")
    run = crisiswatch("bench", "alerts", "--limit", "300", "--hours", "7", "--no-live", "--json",
                      home=home)
    result = json.loads(run.stdout)
    assert result["bursts"] == 5 and result["missed"] == 0
    assert result["false_alerts_per_day"] == 0
    # the sudden burst reaches the spike's 20 posts in its second minute, the ramp in its sixth,
    # an outage in its first: its notice is received within the batch that stored its first post
    delays = result["delay_s_by_shape"]
    assert 60 <= delays["sudden"] < 120 and 300 <= delays["ramp"] < 360 and 0 < delays["outage"] < 60
    assert result["detect_delay_s_p50"] <= result["detect_delay_s_max"] == max(delays.values())
    assert result["detect_delay_to"] == "notice received" and "live_delay_s" not in result
    assert 0 < result["rule_eval_ms_p95"]
    assert "batches of a minute" in run.stderr  # progress goes to stderr
    assert not (home.home / "crisiswatch.db").exists()  # the home's own store is left alone


def test_the_live_part_measures_a_burst_through_crisiswatch_schedule_to_its_notice(home):
    need(DATA / "weibo_covid_2020")
    said = []
    [delay] = live_delays(home, corpus_texts(home.data_dir, POOL), bursts=1, say=said.append)
    assert 0 < delay < 60  # the target: a crawl cycle sends what it opened at its end
    assert said[-1].startswith("live: burst 1 stored at ")
