"""Models trained from the shared data, the spaCy pipeline, the fallback and topics."""

import json

from core.schema import make_post
from core.store import Store
from nlp.models import load_model, model_cards
from nlp.pipeline import build_pipeline, model_version
from nlp.tagger import tag_pending
from nlp.topics import load_taxonomy, topic_scores


def test_trained_models_beat_the_floor_on_held_out_data(trained_models):
    rumor = json.loads((trained_models / "rumor.json").read_text())
    sentiment = json.loads((trained_models / "sentiment.json").read_text())
    assert rumor["held_out"]["macro_f1"] >= 0.82
    assert sentiment["held_out"]["macro_f1"] >= 0.58
    assert set(sentiment["held_out"]["per_class"]) == {"anger", "anxiety", "positive", "weak_negative"}
    assert "research use only" in sentiment["licence"]


def test_pipeline_tags_with_trained_models(trained_models):
    nlp = build_pipeline(trained_models)
    assert nlp.pipe_names == ["crisiswatch_classifiers", "crisiswatch_topics"]
    docs = list(nlp.pipe([
        "转发扩散！内部消息：明天全市停电三天，赶紧囤水囤蜡烛！",
        "感谢抢修师傅连夜奋战，我们小区已经恢复供电了，辛苦了！",
    ]))
    assert [t.text for t in docs[1]][:2] == ["感谢", "抢修"]
    assert docs[0]._.rumor_prob > docs[1]._.rumor_prob
    assert docs[1]._.sentiment == "positive"
    assert {"outage_report"} <= set(docs[0]._.topics) and "restoration" in docs[1]._.topics
    assert "fallback" not in model_version(nlp)


def test_without_models_the_fallback_runs_and_says_so(tmp_path):
    nlp = build_pipeline(tmp_path / "no-models")
    doc = nlp("听说明天要停电，好担心怎么办")
    assert 0 <= doc._.rumor_prob <= 1 and doc._.sentiment == "anxiety"
    assert "fallback-lexicon" in model_version(nlp)
    assert load_model(tmp_path, "rumor").is_fallback
    assert all(card["fallback"] for card in model_cards(tmp_path).values())


def test_topics_follow_the_taxonomy():
    taxonomy = load_taxonomy()
    assert len(taxonomy) == 10
    scores = topic_scores("网传全城停电，供电公司辟谣：正在抢修", taxonomy)
    assert set(scores) == {"outage_report", "rumor_rebuttal", "enterprise_response", "restoration"}
    assert scores["rumor_rebuttal"] == 0.75  # two of its keywords: 网传, 辟谣


def test_tag_stage_tags_each_post_once_in_batches(tmp_path, trained_models):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform="weibo", platform_id=str(i), text=f"第{i}次停电了") for i in range(25)])
    nlp = build_pipeline(trained_models)
    assert tag_pending(store, nlp, batch_size=10) == 25
    assert tag_pending(store, nlp, batch_size=10) == 0
    [counts] = store.counts()
    assert counts.tagged == 25
    assert store.get_post(3)["tags"]["topics"] == ["outage_report"]
