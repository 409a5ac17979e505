"""Rumors judged in their first hour: time-cut views of CED posts, training on them, evaluate --hours."""

import gzip
import json

import numpy as np
from click.testing import CliRunner

from crisiswatch.cli import main
from nlp import linear
from nlp.datasets import ced_labelled, read_ced, time_cut
from nlp.features import featurize
from nlp.train import train_task

POSTED = 1347334462  # 2012-09-11 11:34:22 in Beijing, where CED's reply dates are written


def reply(text: str, date: str) -> dict:
    return {"mid": date, "parent": "", "uid": "1", "text": text, "date": date}


def test_a_time_cut_keeps_the_replies_made_by_then_and_counts_them():
    record = {"id": "a", "label": "rumor", "text": "网传今晚全城停电", "time": POSTED,
              "reposts_count": 225, "comments_count": 55, "likes": 3,
              "reposts": [reply("求证", "2012-09-11 11:40:00"), reply("假的吧", "2012-09-11 12:34:22"),
                          reply("辟谣了", "2012-09-11 12:34:23"), reply("年份不明", "01月25日 12:44")]}
    first_hour = time_cut(record, 1)
    assert [r["text"] for r in first_hour["reposts"]] == ["求证", "假的吧"]
    assert first_hour["reposts_count"] == 2
    assert "comments_count" not in first_hour and "likes" not in first_hour  # final counts, of unknown times
    assert time_cut(record, 0)["reposts"] == [] and time_cut(record, 0)["reposts_count"] == 0
    assert record["reposts_count"] == 225 and len(record["reposts"]) == 4  # the record itself is kept whole
    # some CED posts give their time as Weibo writes it
    as_weibo_writes = {**record, "time": "Tue Sep 11 11:34:22 +0800 2012"}
    assert time_cut(as_weibo_writes, 1)["reposts"] == first_hour["reposts"]
    assert ced_labelled([record], 1).replies == [["求证", "假的吧"]]
    assert sorted(ced_labelled([record]).replies[0]) == sorted(r["text"] for r in record["reposts"])  # all: every reply


def test_each_rumor_model_is_fitted_on_the_rows_it_judges():
    """Views of one post at several ages: the text model learns from the rows without
    replies, the other from those with some."""
    texts = [["甲"], ["乙"]] + [["甲"], ["乙"]] * 3
    replies = [[], []] + [[["谣言"]], [["收到"]]] * 3
    labels = ["non-rumor", "rumor"] + ["rumor", "non-rumor"] * 3
    model = linear.ReplyAwareClassifier.fit(featurize(texts, replies), labels, 16.0)
    assert list(model.predict(featurize([["甲"], ["乙"]], [[], []]))) == ["non-rumor", "rumor"]
    assert list(model.predict(featurize([["甲"], ["乙"]], [[["谣言"]], [["收到"]]]))) == ["rumor", "non-rumor"]


def write_ced(path, n=60):
    """Posts whose text says nothing (each text once per label) and whose replies all come
    after the first hour: skeptical ones under a rumor, thanks under the others."""
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for i in range(n):
            rumor = i % 2 == 0
            record = {"id": f"p{i}", "label": "rumor" if rumor else "non-rumor", "text": f"今晚{i // 2}号线路停电",
                      "time": POSTED + i, "reposts_count": 2, "comments_count": 9,
                      "reposts": [reply("谣言 假的" if rumor else "辛苦 收到", "2012-09-11 14:00:00")] * 2}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def test_rumor_training_measures_the_first_hour_as_it_stood(tmp_path):
    card = train_task("rumor", tmp_path, tmp_path / "models", progress=lambda _: None,
                      data_file=write_ced(tmp_path / "ced.jsonl.gz"))
    assert card["held_out"]["macro_f1"] == 1.0  # with every reply
    # no reply comes within the hour: each post is judged by its text alone, as a live one would be
    assert card["held_out_first_hour"] == card["held_out_text_only"]
    assert card["held_out_first_hour"]["macro_f1"] < 0.8


def test_evaluate_judges_rumors_on_their_first_hours(tmp_path):
    data, home = write_ced(tmp_path / "ced.jsonl.gz"), str(tmp_path / "home")

    def run(*args, code=0):
        result = CliRunner().invoke(main, [*args, "--home", home], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    run("train", "rumor", "--data", str(data))
    whole = json.loads(run("evaluate", "rumor", "--data", str(data), "--json").stdout)
    first_hour = json.loads(run("evaluate", "rumor", "--data", str(data), "--json", "--hours", "1").stdout)
    assert whole["macro_f1"] == 1.0 and "hours" not in whole
    assert first_hour["hours"] == 1 and first_hour["macro_f1"] < 0.8
    assert first_hour["all_replies"] == whole
    assert first_hour["n"] == whole["n"] == len(read_ced(data).texts)
    text = run("evaluate", "rumor", "--data", str(data), "--hours", "1").stdout
    assert "first 1 h" in text and "with every reply" in text
    assert "no replies" in run("evaluate", "sentiment", "--data", str(data), "--hours", "1", code=1).stderr
    assert np.isclose(whole["accuracy"], 1.0)
