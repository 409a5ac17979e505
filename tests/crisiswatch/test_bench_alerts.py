"""`crisiswatch bench alerts`: a timeline of real posts with bursts, fed through the alert rules."""

import json

import pytest

from tests.conftest import DATA, crisiswatch, need

pytestmark = pytest.mark.slow  # every test here starts a process


def test_bench_alerts_finds_every_burst_of_a_short_timeline(home):
    need(DATA / "weibo_covid_2020")
    run = crisiswatch("bench", "alerts", "--limit", "300", "--hours", "4", "--json", home=home)
    result = json.loads(run.stdout)
    assert result["bursts"] == 3 and result["missed"] == 0
    assert result["false_alerts_per_day"] == 0
    # the sudden burst reaches the spike's 20 posts in its second minute, the ramp in its sixth
    assert 60 <= result["delay_s_by_shape"]["sudden"] < 120
    assert result["detect_delay_s_p50"] <= result["detect_delay_s_max"] == max(result["delay_s_by_shape"].values())
    assert result["detect_delay_to"] == "opened"
    assert 0 < result["rule_eval_ms_p95"]
    assert "batches of a minute" in run.stderr  # progress goes to stderr
    assert not (home.home / "crisiswatch.db").exists()  # the home's own store is left alone
