"""How the fast tier's classifiers are fitted: to the optimum, on the columns training saw."""

import numpy as np
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from core import segment
from nlp import linear
from nlp.datasets import Labelled
from nlp.features import featurize
from nlp.models import load_model
from nlp.train import fit_labelled, train_task


def posts_of_three_classes(n=600, seed=0):
    """Posts of random characters, each class favouring a hundred of its own, classes unbalanced."""
    rng = np.random.default_rng(seed)
    chars = [chr(0x4E00 + i) for i in range(400)]
    labels = rng.choice(["anger", "anxiety", "positive"], size=n, p=[0.15, 0.25, 0.6])
    posts = []
    for label in labels:
        own = {"anger": 0, "anxiety": 100, "positive": 200}[label]
        size = rng.integers(5, 30)
        picks = np.where(rng.random(size) < 0.3, rng.integers(own, own + 100, size), rng.integers(0, 400, size))
        posts.append([chars[i] for i in picks])
    return posts, labels


def test_the_regression_is_fitted_to_its_optimum():
    """saga stopped at 100 passes left the coefficients where it stopped (probabilities 0.02
    off the optimum here), and the regularisation chosen on the split with them was too weak."""
    posts, labels = posts_of_three_classes()
    x = featurize(posts)
    fitted = linear.fitted_pipeline(x, labels, 1.5)
    seen = np.unique(x.indices)
    weighted = TfidfTransformer().fit_transform(x[:, seen])
    optimum = LogisticRegression(C=1.5, tol=1e-10, max_iter=10_000, class_weight="balanced").fit(weighted, labels)
    assert np.abs(fitted.predict_proba(x) - optimum.predict_proba(weighted)).max() < 1e-3


def test_features_never_seen_in_training_leave_a_posts_probabilities_alone():
    """A column no training row used gets no weight and no share of a row's length, as an
    unknown word outside a vocabulary: it does not dilute what the known words say."""
    posts, labels = posts_of_three_classes()
    model = linear.fit(featurize(posts), labels, 1.5)
    known = posts[0]
    with_unknown = known + ["鑫"]  # outside the characters of the training posts
    proba = model.predict_proba(featurize([known, with_unknown]))
    assert np.allclose(proba[0], proba[1], atol=1e-6)


def test_a_model_fitted_on_a_tiny_file_is_saved_read_back_and_predicts(tmp_path):
    texts = ["停电三天了气死了", "抢修师傅辛苦了谢谢", "怎么还不来电好担心", "又停电了真愤怒",
             "感谢供电公司", "担心冰箱里的药坏了"] * 6
    labels = ["anger", "positive", "anxiety", "anger", "positive", "anxiety"] * 6
    data = tmp_path / "sentiment.csv"
    data.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in zip(texts, labels)), encoding="utf-8")
    card = train_task("sentiment", tmp_path, tmp_path / "models", progress=lambda _: None, data_file=data)
    assert card["held_out"]["macro_f1"] == 1.0
    model = load_model(tmp_path / "models", "sentiment")
    assert list(model.classifier.predict(featurize([segment.cut("感谢师傅")]))) == ["positive"]
    # helper for the precise tier's stacking: the same fitting from a labelled set
    refitted = fit_labelled("sentiment", Labelled(texts, labels))
    assert list(refitted.predict(featurize([segment.cut("好担心停电")]))) == ["anxiety"]
