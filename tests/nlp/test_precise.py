"""The precise tier (nlp.precise) on tiny models saved here in its layout: probabilities
from length-sorted batches, `tag --precise` in priority order, with a limit, once per model
version and through a kill -9, and its tags winning over the fast tier's in search and its
facets, the alert rules and the reports."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from core.schema import CHINA_TZ, Tags, make_post
from core.store import Store
from crisiswatch import stages
from desk import accounts, alerts, releases
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.reports import make_report
from desk.tables import Alert, Organisation
from indexes.backends import open_index
from indexes.indexer import index_pending
from nlp.precise import PreciseModel, PreciseTier, model_dir, problem, save_model
from tests.conftest import REPO, cli
from tests.desk.test_alert_rules import RumorFeed
from tests.desk.test_alerts import Feed, burst

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SENTIMENTS = ["anger", "anxiety", "positive", "weak_negative"]
EMOTIONS = ["anger", "fear", "gratitude", "sadness"]
CHARACTERS = "停电了龙华区美兰区抢修恢复供电谢谢师傅又愤怒担心0123456789 "
DAY = date(2024, 7, 24)


def save_tiny(models_dir, task: str, labels: list[str], winner: str, seed: int = 0) -> None:
    """A one-layer BERT with a head whose bias makes ``winner`` each post's most likely label."""
    torch.manual_seed(seed)
    vocab = models_dir.parent / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(CHARACTERS)]) + "\n",
                     encoding="utf-8")
    config = transformers.BertConfig(vocab_size=5 + len(set(CHARACTERS)), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=130,
                                     num_labels=len(labels), id2label=dict(enumerate(labels)),
                                     label2id={label: i for i, label in enumerate(labels)})
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([8.0 if label == winner else 0.0 for label in labels]))
    save_model(models_dir, task, model, vocab, {"encoder": "tiny", "figures": {}})


@pytest.fixture
def precise_models(home):
    save_tiny(home.models_dir, "sentiment", SENTIMENTS, "anger")
    save_tiny(home.models_dir, "emotion", EMOTIONS, "anger", seed=1)
    return home


def add_posts(store: Store, count: int, sentiment: str = "anxiety", start: int = 0, text: str = "龙华区停电了") -> list[int]:
    """``count`` posts, one a minute from 08:00 China time on DAY, tagged by the fast tier."""
    first = datetime(2024, 7, 24, 8, 0, tzinfo=CHINA_TZ)
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{start + i}", text=f"{text}{start + i}",
                                  created_at=(first + timedelta(minutes=start + i)).isoformat())
                        for i in range(count)])
    ids = [post_id for post_id, _ in store.posts_to_tag(0, count)]
    store.save_tags([Tags(post_id, 0.1, sentiment, 0.9, [], "test-model", emotion="fear", emotion_score=0.9,
                          polarity="negative", polarity_score=0.9) for post_id in ids])
    return ids


def precise_rows(home) -> dict[int, str]:
    with sqlite3.connect(home.home / "crisiswatch.db") as db:
        return dict(db.execute("SELECT post_id, model_version FROM precise_tags"))


def test_the_layout_saved_is_loaded_and_predicts_each_texts_probabilities_in_order(precise_models):
    folder = model_dir(precise_models.models_dir, "sentiment")
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "vocab.txt", "card.json"}
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    assert card["labels"] == SENTIMENTS and card["encoder"] == "tiny" and card["task"] == "sentiment"
    model = PreciseModel(folder, quantize=False)
    texts = ["停电了" * 30, "谢谢", "龙华区停电了又停电", "担心"]
    together = model.predict_proba(texts, batch_size=2)  # sorted by length: batches [1, 3], [2, 0]
    alone = np.concatenate([model.predict_proba([text]) for text in texts])
    assert together.shape == (4, 4) and np.allclose(together.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)
    assert (PreciseModel(folder).predict_proba(texts).argmax(axis=1) == SENTIMENTS.index("anger")).all()  # int8

    tags = PreciseTier.load(precise_models.models_dir).tags([7], ["龙华区停电了"])
    assert tags[0]["sentiment"] == "anger" and tags[0]["emotion"] == "anger" and tags[0]["polarity"] == "negative"
    assert set(tags[0]["emotion_scores"]) == set(EMOTIONS)
    assert all(score == round(score, 4) for score in tags[0]["emotion_scores"].values())


def test_without_precise_models_the_command_says_why(home):
    assert "no precise sentiment model" in problem(home.models_dir)
    result = cli("tag", "--precise", home=home, check=False)
    assert result.exit_code == 1
    assert "precise tier off: no precise sentiment model" in result.stderr and "train sentiment --tier precise" in result.stderr


def test_tag_precise_takes_incident_posts_alert_evidence_then_the_newest_and_once_per_version(precise_models):
    home = precise_models
    store = stages.open_store(home)
    others = add_posts(store, 6)  # p0-p5
    outage = add_posts(store, 3, start=6, text="美兰区抢修")  # p6-p8, the incident's
    cli("index", home=home)
    with open_sessions(store.engine, home.home)() as session:
        org = Organisation(name="滨海供电局", kind="enterprise", level="company")
        session.add(org)
        session.flush()
        user = accounts.create_user(session, "duty", "值班员", "a-long-password-1", org, ["drafter"])
        incident = releases.create_incident(session, user, "美兰区停电", query="抢修", org_ids=[])
        incident.started_at = datetime(2024, 7, 24, 1)  # 09:00 China time: its posts are from 08:06
        session.commit()

    assert cli("tag", "--precise", "--incident", "1", "--limit", "2", home=home).stdout == "re-tagged 2 posts precisely\n"
    assert set(precise_rows(home)) == set(outage[-2:])  # the incident's newest first
    assert "no incident 9" in cli("tag", "--precise", "--incident", "9", home=home, check=False).stderr
    cli("tag", "--precise", "--limit", "3", "--batch-size", "2", home=home)
    assert set(precise_rows(home)) == set(outage) | set(others[-2:])  # the incident's last, then the newest
    assert cli("tag", "--precise", home=home).stdout == "re-tagged 4 posts precisely\n"
    assert cli("tag", "--precise", home=home).stdout == "re-tagged 0 posts precisely\n"  # nothing new

    save_tiny(home.models_dir, "emotion", EMOTIONS, "sadness", seed=2)  # a new version re-tags everything
    assert cli("tag", "--precise", home=home).stdout == "re-tagged 9 posts precisely\n"
    assert len(set(precise_rows(home).values())) == 1
    assert {post["tags"]["emotion"] for post in store.get_posts(others).values()} == {"sadness"}
    store.close()


def test_evidence_of_open_alerts_comes_before_the_newest_posts(precise_models):
    home = precise_models
    store = stages.open_store(home)
    ids = add_posts(store, 5)
    with open_sessions(store.engine, home.home)() as session:
        org = Organisation(name="滨海供电局", kind="enterprise", level="company")
        session.add(org)
        session.flush()
        rule = alerts.add_rule(session, alerts.add_scheme(session, "停电", org, "停电", places=(), actor="t"),
                               "spike", {}, actor="t")
        session.add(Alert(rule_id=rule.id, key="15m", level="IV", opened_at=datetime(2024, 7, 24),
                                 updated_at=datetime(2024, 7, 24), count=2, baseline=0.0,
                                 post_ids=[ids[0], ids[1]], query=""))
        session.commit()
    cli("tag", "--precise", "--limit", "3", home=home)
    assert set(precise_rows(home)) == {ids[0], ids[1], ids[-1]}
    store.close()


def test_a_kill_mid_run_and_a_rerun_tag_each_post_once(precise_models):
    home = precise_models
    store = stages.open_store(home)
    total = 3000
    add_posts(store, total)
    store.close()
    env = {**os.environ, "CRISISWATCH_HOME": str(home.home)}
    process = subprocess.Popen([sys.executable, "-m", "crisiswatch", "tag", "--precise", "--batch-size", "10"],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, done = time.monotonic() + 120, 0
    while time.monotonic() < deadline and not 0 < done < total:
        assert process.poll() is None, f"finished before it was killed: {process.stderr.read()[-2000:]}"
        try:
            done = len(precise_rows(home))
        except sqlite3.OperationalError:
            done = 0
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(precise_rows(home))
    assert 0 < done < total
    assert cli("tag", "--precise", home=home).stdout == f"re-tagged {total - done} posts precisely\n"
    with sqlite3.connect(home.home / "crisiswatch.db") as db:
        # upserted (1), fast tags (2), precise tags (3): each post re-tagged once
        assert db.execute("SELECT rev, count(*) FROM posts GROUP BY rev").fetchall() == [(3, total)]
    assert len(precise_rows(home)) == total


def test_precise_tags_win_in_search_its_facets_and_the_report(precise_models):
    home = precise_models
    store = stages.open_store(home)
    fast_only = add_posts(store, 2, start=10, text="担心停电")  # stays anxiety
    retagged = add_posts(store, 3)
    tier = PreciseTier.load(home.models_dir)
    store.save_precise_tags(tier.tags(retagged, ["停电"] * 3))
    cli("index", home=home)

    found = json.loads(cli("search", "--sentiment", "anger", "--json", home=home).stdout)
    assert sorted(hit["id"] for hit in found["hits"]) == retagged
    assert {hit["tags"]["tier"] for hit in found["hits"]} == {"precise"}
    anxious = json.loads(cli("search", "--sentiment", "anxiety", "--json", home=home).stdout)
    assert sorted(hit["id"] for hit in anxious["hits"]) == fast_only
    assert {hit["tags"]["tier"] for hit in anxious["hits"]} == {"fast"}
    everything = json.loads(cli("search", "--json", home=home).stdout)
    assert {facet["value"]: facet["count"] for facet in everything["facets"]["sentiment"]} == {"anger": 3, "anxiety": 2}

    with open_sessions(store.engine, home.home)() as session:
        report = make_report("daily", store, open_index(home), session, load_clocks(), day=DAY,
                             now=datetime(2024, 7, 25, 9, tzinfo=CHINA_TZ)).as_dict()
    assert dict(map(tuple, report["sentiment"]["sentiment"])) == {"anger": 3, "anxiety": 2}
    store.close()


def test_an_alert_rule_counts_by_the_precise_sentiment(home, store):
    feed = Feed(home, store)
    feed.add([16 + 15 * i for i in range(48)], sentiment="positive")
    share = alerts.add_rule(feed.session, feed.scheme(), "share", {}, actor="test")
    burst(feed, 25, sentiment="positive")
    assert feed.check() == []  # by the fast tags: nothing negative
    ids = sorted(feed.store.get_posts(range(49, 74)))
    feed.store.save_precise_tags([{"post_id": post_id, "sentiment": "anger", "sentiment_score": 0.9,
                                   "emotion": "anger", "emotion_score": 0.9, "emotion_scores": {"anger": 0.9},
                                   "polarity": "negative", "polarity_score": 0.9, "model_version": "tiny"}
                                  for post_id in ids])
    index_pending(feed.store, open_index(home))
    [change] = feed.check()
    assert change.rule.id == share.id and change.alert.evidence["negative"] == 25
    feed.session.close()


def test_a_watched_accounts_rule_counts_its_posts_by_the_precise_sentiment(home, store):
    feed = RumorFeed(home, store)
    alerts.add_rule(feed.session, feed.scheme(), "account", {}, actor="test")
    alerts.watch_account(feed.session, feed.org, "weibo", "u1", actor="test")
    feed.rumors([5], text="供电局又停电了", sentiment="positive", rumor_prob=0.1, author_id="u1")
    assert feed.check() == []
    [post_id] = feed.store.get_posts([1])
    feed.store.save_precise_tags([{"post_id": post_id, "sentiment": "anger", "sentiment_score": 0.9,
                                   "emotion": "anger", "emotion_score": 0.9, "emotion_scores": {"anger": 0.9},
                                   "polarity": "negative", "polarity_score": 0.9, "model_version": "tiny"}])
    [change] = feed.check()
    assert change.alert.key == "weibo:u1" and change.alert.post_ids == [post_id]
    feed.session.close()
