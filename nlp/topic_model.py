"""Topics learnt from analysts: where the keyword rules miss a topic, corrections teach it.

Analysts correct a post's topics on its page (the full set of topics it has). When
enough posts are corrected, ``crisiswatch train topics`` fits one logistic regression
per topic over the same hashed features as the other classifiers, for each topic with
enough corrected posts on both sides. The pipeline then adds a topic wherever its model
is confident, beside the rules (the score is the larger of the two).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np

from nlp import features as feats
from nlp import linear

MIN_POSTS = 20  # corrected posts before any topic model is trained
MIN_EACH_SIDE = 3  # posts with and without a topic before that topic gets a model
THRESHOLD = 0.5


class TopicModels:
    """One binary classifier per learnt topic."""

    def __init__(self, classifiers: dict[str, object], version: str):
        self.classifiers = classifiers
        self.version = version

    def scores(self, features) -> list[dict[str, float]]:
        """For each row, the learnt topics whose probability reaches the threshold."""
        rows: list[dict[str, float]] = [{} for _ in range(features.shape[0])]
        for label, classifier in self.classifiers.items():
            column = list(classifier.classes_).index(1)
            for i, p in enumerate(classifier.predict_proba(features)[:, column]):
                if p >= THRESHOLD:
                    rows[i][label] = round(float(p), 3)
        return rows


def model_file(models_dir: Path) -> Path:
    return Path(models_dir) / "topics.joblib"


def train_topics(texts: list[str], label_sets: list[set[str]], models_dir: Path, featurize, progress=print) -> dict:
    """Fit a classifier for each topic that enough corrected posts have and lack; save them."""
    if len(texts) < MIN_POSTS:
        raise ValueError(f"{len(texts)} posts have corrected topics; at least {MIN_POSTS} are needed "
                         "(correct topics on the post pages first)")
    x = featurize(texts)
    classifiers, skipped = {}, []
    for label in sorted(set().union(*label_sets)):
        y = np.array([int(label in labels) for labels in label_sets])
        if min(y.sum(), len(y) - y.sum()) < MIN_EACH_SIDE:
            skipped.append(label)
            continue
        classifiers[label] = linear.fit(x, y)
    progress(f"topics: learnt {', '.join(classifiers) or 'none'} from {len(texts)} corrected posts"
             + (f"; too few examples for {', '.join(skipped)}" if skipped else ""))
    digest = hashlib.sha1(json.dumps(sorted(zip(texts, map(sorted, label_sets))), ensure_ascii=False).encode()).hexdigest()[:8]
    card = {"task": "topics", "version": f"topics-lr-{digest}", "features": feats.VERSION, "posts": len(texts),
            "topics": sorted(classifiers), "too_few_examples": skipped,
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "note": "trained on analyst corrections only; no held-out figures until there are hundreds"}
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_file(models_dir).with_suffix(".tmp")
    joblib.dump(TopicModels(classifiers, card["version"]), tmp)
    tmp.replace(model_file(models_dir))
    (models_dir / "topics.json").write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return card


def is_outdated(models_dir: Path) -> bool:
    """Whether topics were learnt by an older crisiswatch (another feature layout): they
    are not used until ``crisiswatch train topics`` learns them again from the corrections."""
    card = Path(models_dir) / "topics.json"
    return card.exists() and json.loads(card.read_text(encoding="utf-8")).get("features") != feats.VERSION


def load_topic_models(models_dir: Path) -> TopicModels | None:
    if is_outdated(models_dir) or not ((Path(models_dir) / "topics.json").exists() and model_file(models_dir).exists()):
        return None
    return joblib.load(model_file(models_dir))
