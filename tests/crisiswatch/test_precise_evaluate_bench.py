"""`evaluate --tier` and `bench nlp --tier precise` on tiny precise models saved here in the
tier's layout (as tests/nlp/test_precise.py saves them): the figures of the tier measured with
its name and version, the default tier the one the product tags with, and a clear error where
there is no precise model."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from nlp.precise import PreciseModel, PreciseTier, model_dir
from tests.conftest import cli
from tests.nlp.test_precise import EMOTIONS, SENTIMENTS, save_tiny

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROWS = [("龙华区又停电了，气死了", "anger")] * 6 + [("担心今晚还停电", "anxiety")] * 2 + [("谢谢抢修师傅", "positive")] * 2


@pytest.fixture
def labelled(tmp_path):
    """Ten sentiment examples in the training file's format, six of them anger."""
    path = tmp_path / "sentiment.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *ROWS])
    return path


def evaluate(home, *args, check=True):
    result = cli("evaluate", "sentiment", *args, home=home, check=check)
    return json.loads(result.stdout) if check else result


def test_evaluate_measures_the_precise_model_by_default_where_the_home_has_the_precise_tier(home, labelled):
    save_tiny(home.models_dir, "sentiment", SENTIMENTS, "anger")  # says anger to every post
    save_tiny(home.models_dir, "emotion", EMOTIONS, "anger", seed=1)
    version = PreciseModel(model_dir(home.models_dir, "sentiment")).version

    result = evaluate(home, "--data", str(labelled), "--json")
    assert result["tier"] == "precise" and result["model_version"] == result["model"] == version
    assert result["n"] == 10 and result["accuracy"] == 0.6 and not result["fallback"]
    assert result["per_class"]["anger"]["recall"] == 1 and result["per_class"]["anxiety"]["recall"] == 0
    assert evaluate(home, "--data", str(labelled), "--json", "--tier", "precise") == result

    fast = evaluate(home, "--data", str(labelled), "--json", "--tier", "fast")
    assert fast["tier"] == "fast" and fast["fallback"] and fast["model_version"] == fast["model"] == "fallback-lexicon-1"
    text = cli("evaluate", "sentiment", "--data", str(labelled), home=home).stdout
    assert f"sentiment: {version} (precise tier) on" in text and "macro-F1" in text


def test_without_both_precise_models_the_default_is_fast_and_the_precise_tier_says_how_to_train_it(
        home, labelled, monkeypatch):
    assert evaluate(home, "--data", str(labelled), "--json")["tier"] == "fast"
    refused = evaluate(home, "--data", str(labelled), "--tier", "precise", check=False)
    assert refused.exit_code == 1 and "no precise sentiment model" in refused.stderr
    assert "crisiswatch train sentiment --tier precise makes it" in refused.stderr
    monkeypatch.setenv("CRISISWATCH_ENCODER", "off")
    refused = evaluate(home, "--data", str(labelled), "--tier", "precise", check=False)
    assert refused.exit_code == 1 and "training it needs an encoder: no encoder: set CRISISWATCH_ENCODER" in refused.stderr

    save_tiny(home.models_dir, "sentiment", SENTIMENTS, "anger")  # the product tags with both or neither
    assert evaluate(home, "--data", str(labelled), "--json")["tier"] == "fast"
    assert evaluate(home, "--data", str(labelled), "--json", "--tier", "precise")["tier"] == "precise"
    rumor = cli("evaluate", "rumor", "--data", str(labelled), "--tier", "precise", home=home, check=False)
    assert rumor.exit_code == 1 and "rumor has no precise tier" in rumor.stderr


@pytest.mark.slow  # the benchmark starts a process
def test_bench_nlp_precise_times_the_tier_in_a_fresh_process(home, tmp_path, monkeypatch):
    corpus = tmp_path / "data" / "weibo_covid_2020"
    corpus.mkdir(parents=True)
    with gzip.open(corpus / "2020-01-19.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("id", "text"), *((i, f"龙华区停电了{i}，担心") for i in range(150))])
    monkeypatch.setenv("CRISISWATCH_DATA", str(tmp_path / "data"))
    refused = cli("bench", "nlp", "--tier", "precise", "--json", home=home, check=False)
    assert refused.exit_code == 1 and "precise tier off: no precise sentiment model" in refused.stderr

    save_tiny(home.models_dir, "sentiment", SENTIMENTS, "anger")
    save_tiny(home.models_dir, "emotion", EMOTIONS, "anger", seed=1)
    result = json.loads(cli("bench", "nlp", "--tier", "precise", "--limit", "100", "--json", home=home).stdout)
    assert result["tier"] == "precise" and result["posts"] == 100
    assert result["models"] == PreciseTier.load(home.models_dir).version
    assert result["posts_per_s"] > 0 and result["threads"] >= 1
    assert 100 < result["peak_rss_mb"] < 1500  # the child's: torch and the models, not this test process
