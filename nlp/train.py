"""Train the classifiers from the shared data, and measure them on a held-out split.

Each task's file is split 80/20 (stratified, fixed seed): the model is fitted on the
80 %, measured on the 20 %, then refitted on all of it. The held-out figures go into the
model's card, so ``crisiswatch status`` and the README can show what the model is worth.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import datetime, timezone
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from core import segment
from nlp.datasets import LICENCES, TRAINING_FILES, read_task
from nlp.features import classifier, featurize
from nlp.models import save_model

SEED = 42


def metrics(truth: list[str], predicted: list[str]) -> dict:
    labels = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    per_class = {
        label: {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(sum(v["f1"] for v in per_class.values()) / len(per_class)), 4),
        "per_class": per_class,
        "n": len(truth),
    }


def train_task(task: str, data_dir: Path, models_dir: Path, progress=print, data_file: Path | None = None) -> dict:
    """Train one task's model and save it; returns its card."""
    path = Path(data_file) if data_file else Path(data_dir) / TRAINING_FILES[task]
    if not path.exists():
        raise FileNotFoundError(f"no training data for {task}: {path} is missing (set CRISISWATCH_DATA or --data)")
    progress(f"{task}: reading {path}")
    texts, labels = read_task(task, path)
    progress(f"{task}: segmenting {len(texts)} texts")
    features = featurize([segment.cut(text) for text in texts])
    train_x, test_x, train_labels, test_labels = train_test_split(
        features, labels, test_size=0.2, random_state=SEED, stratify=labels
    )
    progress(f"{task}: fitting on {len(train_labels)}, measuring on {len(test_labels)} held out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # saga stops at max_iter by design
        held_out = metrics(test_labels, list(classifier().fit(train_x, train_labels).predict(test_x)))
        progress(f"{task}: held-out accuracy {held_out['accuracy']}, macro-F1 {held_out['macro_f1']}; refitting on all")
        model = classifier().fit(features, labels)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:8]
    card = {
        "task": task,
        "version": f"{task}-tfidf-lr-{digest}",
        "algorithm": "hashed words, word pairs and character 1-3-grams, TF-IDF, logistic regression",
        "data": str(path),
        "data_sha1": digest,
        "licence": LICENCES[task],
        "classes": sorted(set(labels)),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "held_out": held_out,
        "segmenter": segment.engine_name(),
    }
    save_model(models_dir, task, model, card)
    return card
