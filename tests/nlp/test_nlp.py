"""Models trained from the shared data, the spaCy pipeline, the fallback and topics."""

import json

import numpy as np
import pytest

from core import segment
from core.schema import make_post
from core.store import Store
from nlp import linear
from nlp.features import N_FEATURES, REPLY_COLUMNS, featurize
from nlp.models import load_model, model_cards
from nlp.pipeline import build_pipeline, model_version
from nlp.polarity import polarities
from nlp.tagger import tag_pending
from nlp.topics import load_taxonomy, topic_scores
from tests.conftest import DATA, need


def test_trained_models_beat_the_floor_on_held_out_data(trained_models):
    rumor = json.loads((trained_models / "rumor.json").read_text())
    sentiment = json.loads((trained_models / "sentiment.json").read_text())
    assert rumor["held_out"]["macro_f1"] >= 0.82
    assert sentiment["held_out"]["macro_f1"] >= 0.58
    assert set(sentiment["held_out"]["per_class"]) == {"anger", "anxiety", "positive", "weak_negative"}
    assert "research use only" in sentiment["licence"]
    emotion = json.loads((trained_models / "emotion.json").read_text())
    assert emotion["held_out"]["macro_f1"] >= 0.6 and len(emotion["held_out"]["per_class"]) == 7
    # the earliest replies carry the rumor signal: with them the model must do clearly better
    assert rumor["held_out"]["macro_f1"] >= rumor["held_out_text_only"]["macro_f1"] + 0.03


def test_pipeline_tags_with_trained_models(trained_models):
    nlp = build_pipeline(trained_models)
    assert nlp.pipe_names == ["crisiswatch_classifiers", "crisiswatch_topics", "crisiswatch_places", "crisiswatch_entities"]
    docs = list(nlp.pipe([
        "转发扩散！内部消息：明天全市停电三天，赶紧囤水囤蜡烛！",
        "感谢抢修师傅连夜奋战，我们小区已经恢复供电了，辛苦了！",
    ]))
    assert [t.text for t in docs[1]][:2] == ["感谢", "抢修"]
    assert docs[0]._.rumor_prob > docs[1]._.rumor_prob
    assert docs[1]._.sentiment == "positive"
    assert {"outage_report"} <= set(docs[0]._.topics) and "restoration" in docs[1]._.topics
    assert docs[1]._.emotion == "gratitude" and 0 < docs[1]._.emotion_score <= 1
    assert set(docs[0]._.emotion_scores) == {"anger", "disgust", "fear", "gratitude", "optimism", "sadness", "surprise"}
    assert abs(sum(docs[0]._.emotion_scores.values()) - 1) < 0.01
    assert docs[1]._.emotion_scores["gratitude"] == docs[1]._.emotion_score
    assert docs[1]._.polarity == "positive" and docs[1]._.polarity_score > 0.5
    assert "fallback" not in model_version(nlp)


def test_skeptical_replies_raise_the_rumor_probability(trained_models):
    nlp = build_pipeline(trained_models)
    text = "紧急扩散！明天起全市停电一周，水也要停，大家赶紧去超市囤货！"
    alone, questioned = nlp.make_doc(text), nlp.make_doc(text)
    questioned._.replies = ["谣言吧，供电局已经辟谣了", "假的，别传了", "求证，有官方消息吗？", "又是谣言"] * 5
    alone, questioned = nlp.pipe([alone, questioned])
    assert questioned._.rumor_prob > alone._.rumor_prob + 0.1


def test_places_are_normalised_to_administrative_codes(tmp_path):
    nlp = build_pipeline(tmp_path / "no-models")
    doc = nlp("武汉供电公司：武昌区部分小区停电，国家电网正在抢修")
    assert doc._.places == ["420000", "420100", "420106"]  # Hubei, Wuhan, Wuchang with its lineage
    assert doc._.organisations == ["武汉供电公司", "国家电网"]
    assert nlp("北京朝阳区停电了")._.places == ["110000", "110105"]
    assert nlp("吉林长春朝阳区停电了")._.places == ["220000", "220100", "220104"]
    assert nlp("朝阳区停电了")._.places == []  # two 朝阳区 and nothing to tell them apart: no guess
    # A district goes with the city named beside it: the fictional 滨海市's 东湖区 is not 南昌's.
    assert nlp("滨海市东湖区停电了")._.places == []
    assert nlp("受台风影响，滨海市出现强风暴雨，海港区、东湖区等多个区域发生大面积停电")._.places == []
    assert nlp("南昌市东湖区停电了")._.places == ["360000", "360100", "360102"]
    assert nlp("东湖区停电了")._.places == ["360000", "360100", "360102"]  # one 东湖区, no other city named
    assert nlp("武汉市东湖区停电了")._.places == ["420000", "420100"]  # Wuhan has no 东湖区
    assert nlp("去超市买水，东湖区停电了")._.places == ["360000", "360100", "360102"]  # 超市 names no city


def test_without_models_the_fallback_runs_and_says_so(tmp_path):
    nlp = build_pipeline(tmp_path / "no-models")
    doc = nlp("听说明天要停电，好担心怎么办")
    assert 0 <= doc._.rumor_prob <= 1 and doc._.sentiment == "anxiety"
    assert "fallback-lexicon" in model_version(nlp)
    assert load_model(tmp_path, "rumor").is_fallback
    assert all(card["fallback"] for card in model_cards(tmp_path).values())


def test_polarity_weighs_both_models_and_is_neutral_when_neither_side_wins():
    sentiment_labels, emotion_labels = ["anger", "positive"], ["fear", "gratitude", "sadness", "surprise"]
    sentiment = np.array([[0.1, 0.9], [0.9, 0.1], [0.2, 0.8]])
    emotion = np.array([[0.2, 0.8, 0, 0], [0.7, 0, 0, 0.3], [0, 0.3, 0.7, 0]])
    assert polarities(sentiment, sentiment_labels, emotion, emotion_labels) == [
        ("positive", 0.85), ("negative", 0.8),
        ("neutral", 0.9),  # the models disagree: neither side wins by the margin
    ]


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
    assert store.get_post(3)["tags"]["topic_scores"] == {"outage_report": 0.5}


def test_tag_stage_reads_each_posts_earliest_replies(tmp_path, trained_models):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform="weibo", platform_id="p", text="网传今晚全城停电")]
                       + [make_post(platform="weibo", platform_id=f"r{i}", parent_id="p", kind="repost",
                                    text=f"谣言，假的 {i}", created_at=f"2020-01-01T00:0{i}:00+08:00") for i in range(3)])
    assert store.reply_texts([1], per_post=2) == {1: ["谣言，假的 0", "谣言，假的 1"]}
    nlp = build_pipeline(trained_models)
    tag_pending(store, nlp)
    assert store.get_post(1)["tags"]["rumor_prob"] > nlp("网传今晚全城停电")._.rumor_prob + 0.1


def test_wordless_reposts_are_read_as_training_reads_them(tmp_path, trained_models):
    """CED's wordless reposts are "" in training; the store keeps them as "转发微博"."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.upsert_posts([make_post(platform="weibo", platform_id="p", text="网传今晚全城停电")]
                       + [make_post(platform="weibo", platform_id=f"r{i}", parent_id="p", kind="repost",
                                    text="转发微博", created_at=f"2020-01-01T00:0{i}:00+08:00") for i in range(5)])
    nlp = build_pipeline(trained_models)
    tag_pending(store, nlp)
    doc = nlp.make_doc("网传今晚全城停电")
    doc._.replies = [""] * 5
    [as_trained] = nlp.pipe([doc])
    assert store.get_post(1)["tags"]["rumor_prob"] == pytest.approx(as_trained._.rumor_prob, abs=1e-6)


def test_a_model_of_an_older_feature_layout_is_retrained_not_misread(tmp_path, trained_models):
    import shutil

    import pytest

    from nlp.models import ModelOutdated, is_current

    shutil.copytree(trained_models, tmp_path, dirs_exist_ok=True)
    card = json.loads((tmp_path / "emotion.json").read_text())
    (tmp_path / "emotion.json").write_text(json.dumps({**card, "features": "words-chars-0"}))
    assert not is_current(tmp_path, "emotion") and is_current(tmp_path, "rumor")
    with pytest.raises(ModelOutdated, match="crisiswatch train emotion"):
        load_model(tmp_path, "emotion")



def test_ner_model_finds_names_and_is_measured_on_exact_spans(trained_models):
    from nlp.ner import load_entities, measure, spans

    assert spans(["B-LOC", "I-LOC", "O", "I-ORG", "B-PER", "B-PER", "I-PER"]) == {
        (0, 2, "LOC"), (3, 4, "ORG"), (4, 5, "PER"), (5, 7, "PER")}
    card = json.loads((trained_models / "ner.json").read_text())
    assert set(card["held_out"]["per_class"]) == {"LOC", "ORG", "PER"} and card["held_out"]["n"] == 600
    assert card["held_out"]["per_class"]["LOC"]["f1"] > 0.5  # 2,400 training sentences only, in the tests
    entities = load_entities(trained_models)
    text, tags = "中国人民银行在北京召开会议", ["B-ORG"] + ["I-ORG"] * 5 + ["O", "B-LOC", "I-LOC"] + ["O"] * 4
    assert measure(entities, [(text, tags)])["n"] == 1
    assert ("北京", "LOC") in entities.find([text])[0]


def test_entities_add_names_the_gazetteer_misses_on_topical_posts(trained_models):
    nlp = build_pipeline(trained_models)
    assert "ner-crf" in model_version(nlp)
    outage = nlp("天安门广场附近停电了，北京市海淀区也停了")
    assert outage._.locations == ["天安门广场"]  # no administrative code: kept by name
    assert outage._.places == ["110000", "110108"]  # the gazetteer's codes, not repeated by NER
    assert nlp("天安门广场附近天气很好")._.locations == []  # no outage topic: NER does not run
    everything = build_pipeline(trained_models, ner_scope="all")
    assert everything("天安门广场附近天气很好")._.locations == ["天安门广场"]


def test_features_of_a_post_do_not_depend_on_its_batch():
    posts = [segment.cut(text) for text in ("武汉停电了", "真的假的？KN95", "", "停电")]
    together = featurize(posts, [[segment.cut("谣言")], [], [], []])
    for i, tokens in enumerate(posts):
        alone = featurize([tokens])
        assert (alone[0, : REPLY_COLUMNS.start] != together[i, : REPLY_COLUMNS.start]).nnz == 0
    # words, word pairs and character 1-3-grams: 停电 is one word and 2 + 1 n-grams
    assert featurize([["停电"]]).sum() == 1 + 2 + 1 + 0 and featurize([[]]).nnz == 0
    assert together[0, REPLY_COLUMNS].sum() == 1 and together[1, REPLY_COLUMNS].nnz == 0
    assert featurize([["武汉"]]).indices.tolist() != featurize([["汉武"]]).indices.tolist()  # order matters


def test_word_features_are_the_words_segment_keeps():
    """The word block hashes slices of the batch's lower-cased text, not word strings: it
    must be the block of ``segment.words`` (no blanks or punctuation, lower case), pairs
    of neighbouring words included, whatever the characters."""
    texts = ["COVID-19疫情，武汉 KN95口罩！", "😀😀停电𠀀𠀀好 #话题#", "İstanbul ΑΣ Straße", "ＡＢＣ１２３ a_b ...", "！！？"]
    posts = [segment.cut(text) for text in texts]
    block = slice(0, N_FEATURES)
    assert (featurize(posts)[:, block] != featurize([segment.words(t) for t in posts])[:, block]).nnz == 0
    assert featurize(posts)[4, block].nnz == 0 and featurize(posts)[0, block].nnz > 0


def test_folded_models_give_the_fitted_pipelines_probabilities():
    """nlp.linear keeps the arithmetic of TF-IDF + logistic regression, not the objects:
    its probabilities must be scikit-learn's, for two classes and for more, for a model
    fitted on the text block alone, and for a post without features."""
    texts = ["停电三天了还没来电", "感谢抢修师傅", "谣言，别信", "网传明天全城停电", "供电公司说今晚恢复",
             "太热了受不了", "辟谣：不会停电", "电费又涨了", "小区停电求助", "抢修队辛苦了", "", "KN95口罩"]
    labels = ["anger", "positive", "rumor", "rumor", "positive", "anger", "rumor", "anger", "anger", "positive",
              "positive", "rumor"]
    x = featurize([segment.cut(t) for t in texts], [[segment.cut("假的吧")] if i % 3 else [] for i in range(12)])
    for classes in (labels, [label == "rumor" for label in labels]):
        pipeline = linear.fitted_pipeline(x, classes)
        assert np.allclose(linear.LinearModel.of(pipeline).predict_proba(x), pipeline.predict_proba(x), atol=1e-5)
        text_block = x[:, : REPLY_COLUMNS.start]
        on_text = linear.fitted_pipeline(text_block, classes)
        folded = linear.LinearModel.of(on_text)
        assert np.allclose(folded.predict_proba(x), on_text.predict_proba(text_block), atol=1e-5)
    assert linear.has_replies(x).tolist() == [bool(i % 3) for i in range(12)]


def test_the_decoder_tags_as_crfsuite_does(trained_models):
    """nlp.ner tags with its own Viterbi over CRFsuite's weights, the chain cut after the
    clause marks (CLAUSE_ENDS), each tagged O: exactly CRFsuite's tags wherever CRFsuite's
    own path tags those marks O (and no clause is longer than MAX_CLAUSE)."""
    import pycrfsuite

    from nlp.datasets import read_char_bio
    from nlp.ner import CLAUSE_ENDS, MAX_CLAUSE, char_features, load_entities, model_file

    texts = [text for text, _ in read_char_bio(need(DATA / "ner" / "msra_char_bio.zip"))[-2000:]]
    texts += ["", "^$^$", "😀停电了北京", "武汉" * 150, "x"]
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model_file(trained_models)))
    decoder = load_entities(trained_models).decoder
    ours = decoder.tags(texts)
    theirs = [tagger.tag(char_features(text)) if text else [] for text in texts]
    assert [len(tags) for tags in ours] == [len(text) for text in texts]
    assert len(decoder.tags(["停电\ud800了"])[0]) == 4  # a lone surrogate, which CRFsuite cannot even take
    uncut = [i for i, text in enumerate(texts) if len(text) <= MAX_CLAUSE and not set(text[:-1]) & set(CLAUSE_ENDS)]
    assert len(uncut) > 300 and all(ours[i] == theirs[i] for i in uncut)
    cut = [i for i, text in enumerate(texts) if len(text) <= MAX_CLAUSE and i not in uncut
           and all(theirs[i][at] == "O" for at, char in enumerate(text[:-1]) if char in CLAUSE_ENDS)]
    assert len(cut) > 1000 and all(ours[i] == theirs[i] for i in cut)
    assert sum(a == b for a, b in zip(ours, theirs)) >= 0.99 * len(texts)


def test_the_key_table_finds_exactly_the_keys_it_holds():
    from nlp.ner import KeyTable

    rng = np.random.default_rng(1)
    for n in (0, 1, 5, 30_000):
        keys = np.unique(rng.integers(0, 10**7, n))
        asked = np.concatenate([keys, rng.integers(0, 10**7, 5_000), [0, 10**7]])
        rows = {key: row for row, key in enumerate(keys.tolist())}
        assert KeyTable.of(keys).find(asked).tolist() == [rows.get(key, -1) for key in asked.tolist()]


def test_the_decoders_entities_are_those_of_its_tags(trained_models):
    """``Decoder.spans`` finds the entities with array operations: they must be what
    ``spans`` reads from the tags, text by text, with no entity running into the next text."""
    from nlp.datasets import read_char_bio
    from nlp.ner import load_entities, spans

    texts = [text for text, _ in read_char_bio(need(DATA / "ner" / "msra_char_bio.zip"))[-1000:]]
    texts += ["", "北京", "", "上海市浦东新区", "x", "国家电网公司北京分公司", "中国"]
    decoder = load_entities(trained_models).decoder
    found = decoder.spans(texts)
    assert found == [sorted(spans(tags)) for tags in decoder.tags(texts)]
    assert sum(map(len, found)) > 100 and decoder.spans([]) == [] and decoder.spans([""]) == [[]]


def test_posts_tagged_before_the_ner_model_get_its_places_in_batches_and_keep_their_other_tags(
        store, trained_models, tmp_path):
    import shutil

    from nlp.tagger import retag_places

    without_ner = tmp_path / "without_ner"
    shutil.copytree(trained_models, without_ner, ignore=shutil.ignore_patterns("ner.*"))
    texts = ["天安门广场附近停电了，北京市海淀区也停了", "天安门广场附近天气很好", "东湖区停电，国家电网正在抢修"]
    store.upsert_posts([make_post(platform="weibo", platform_id=str(i), text=t) for i, t in enumerate(texts)])
    early = build_pipeline(without_ner)
    assert tag_pending(store, early) == 3 and retag_places(store, early) == 0  # no NER model: nothing to redo
    before = {i: store.get_post(i) for i in (1, 2, 3)}
    assert before[1]["tags"]["locations"] == [] and before[1]["tags"]["model_version"].endswith("|ner-none")

    nlp = build_pipeline(trained_models)
    assert retag_places(store, nlp, batch_size=1, limit=2) == 2  # a run stopped after two batches ...
    assert retag_places(store, nlp, batch_size=1) == 1  # ... resumes with the third post
    assert retag_places(store, nlp) == 0
    for i in (1, 2, 3):
        post = store.get_post(i)
        assert post["rev"] == before[i]["rev"] + 1  # to be indexed again
        assert post["tags"]["model_version"] == model_version(nlp)  # the same classifiers, now with NER
        kept = ("rumor_prob", "sentiment", "emotion", "emotion_scores", "polarity", "topics", "topic_scores")
        assert {k: post["tags"][k] for k in kept} == {k: before[i]["tags"][k] for k in kept}
    tags = store.get_post(1)["tags"]
    assert tags["locations"] == ["天安门广场"] and tags["places"] == ["110000", "110108"]
    assert store.get_post(2)["tags"]["locations"] == []  # no outage topic: NER does not run
