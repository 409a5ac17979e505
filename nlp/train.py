"""Train the classifiers from the shared data, and measure them on a held-out split.

Each task's file is split 80/20 (stratified, fixed seed): the model is fitted on the
80 %, measured on the 20 %, then refitted on all of it. The held-out figures go into the
model's card, so ``crisiswatch status`` and the README can show what the model is worth.
Analyst corrections of a task's tags are added to its training data (not to the
held-out part, which stays the file's own).
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from core import segment
from nlp import features as feats
from nlp import linear
from nlp.datasets import LICENCES, TRAINING_FILES, Labelled, ced_labelled, read_ced_records, read_task
from nlp.models import save_model, write_card
from nlp.ner import train_ner

SEED = 42
# Regularisation per task (logistic regression's C), chosen on the 80/20 split of each
# training file with the regression fitted to convergence.
STRENGTH = {"rumor": 16.0, "sentiment": 1.5, "emotion": 1.5}
# The ages (hours after posting; None: every reply the file holds) at which the rumor
# model sees each training post, with only the replies it had by then: a live post is
# tagged with the replies it has so far, and the file's own replies are final ones.
RUMOR_VIEWS = (0, 1 / 6, 1, 6, None)
FIRST_HOUR = 1


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


def featurize_data(data: Labelled, cut=segment.cut):
    """The feature matrix of a data set: its texts and, where present, their replies."""
    replies = [[cut(r) for r in replies] for replies in data.replies] if data.replies else None
    return feats.featurize([cut(t) for t in data.texts], replies)


def rumor_views(records: list[dict]) -> dict:
    """The feature matrix of the CED records at each age of ``RUMOR_VIEWS`` (row i: record i)."""
    cut = lru_cache(maxsize=None)(segment.cut)  # the views share their texts and replies
    return {hours: featurize_data(ced_labelled(records, hours), cut) for hours in RUMOR_VIEWS}


def _stacked(views: dict, rows) -> sp.csr_matrix:
    return sp.vstack([x[rows] for x in views.values()], format="csr")


def _fit(task: str, x, labels):
    if task == "rumor":
        return linear.ReplyAwareClassifier.fit(x, labels, STRENGTH[task])
    return linear.fit(x, labels, STRENGTH[task])


def fit_labelled(task: str, data: Labelled):
    """The fast tier's model of ``task`` fitted on a labelled set, as ``train_task`` fits it."""
    return _fit(task, featurize_data(data), data.labels)


def _provenance(task: str, path: Path, digest: str, corrections: Labelled | None, labels, held_out: dict) -> dict:
    """What a model card says of any model: its data, licence, classes, time and held-out figures."""
    return {
        "data": str(path),
        "data_sha1": digest,
        "corrections": len(corrections.texts) if corrections else 0,
        "licence": LICENCES[task],
        "classes": sorted(set(labels)),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "held_out": held_out,
    }


def train_task(task: str, data_dir: Path, models_dir: Path, progress=print, data_file: Path | None = None,
               corrections: Labelled | None = None) -> dict:
    """Train one task's model and save it; returns its card."""
    path = Path(data_file) if data_file else Path(data_dir) / TRAINING_FILES[task]
    if not path.exists():
        raise FileNotFoundError(f"no training data for {task}: {path} is missing (set CRISISWATCH_DATA or --data)")
    if task == "ner":
        return train_ner(path, models_dir, progress)
    progress(f"{task}: reading {path}")
    records = read_ced_records(path) if task == "rumor" else None
    data = ced_labelled(records) if task == "rumor" else read_task(task, path)
    progress(f"{task}: segmenting {len(data.texts)} texts")
    views = rumor_views(records) if task == "rumor" else {None: featurize_data(data)}
    x = views[None]
    labels = np.array(data.labels)
    train_rows, test_rows = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=SEED, stratify=labels)
    progress(f"{task}: fitting on {len(train_rows)}, measuring on {len(test_rows)} held out")
    model = _fit(task, _stacked(views, train_rows), np.tile(labels[train_rows], len(views)))
    held_out = metrics(list(labels[test_rows]), list(model.predict(x[test_rows])))
    extra = {}
    if task == "rumor":
        for key, hours in (("held_out_text_only", 0), ("held_out_first_hour", FIRST_HOUR)):
            extra[key] = metrics(list(labels[test_rows]), list(model.predict(views[hours][test_rows])))
    x, labels = _stacked(views, slice(None)), np.tile(labels, len(views))
    if corrections and corrections.texts:
        progress(f"{task}: adding {len(corrections.texts)} analyst corrections")
        x = sp.vstack([x, featurize_data(corrections)], format="csr")
        labels = np.concatenate([labels, corrections.labels])
    progress(f"{task}: held-out accuracy {held_out['accuracy']}, macro-F1 {held_out['macro_f1']}; refitting on all")
    model = _fit(task, x, labels)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:8]
    card = {
        "task": task,
        "version": f"{task}-tfidf-lr-{digest}" + (f"-c{len(corrections.texts)}" if corrections and corrections.texts else ""),
        "algorithm": "hashed words, word pairs and character 1-3-grams"
                     + (" (+ words of the earliest replies, seen at 0, 10 min, 1 h, 6 h and all)" if task == "rumor" else "")
                     + ", TF-IDF, logistic regression",
        "features": feats.VERSION,
        **_provenance(task, path, digest, corrections, labels, held_out),
        **extra,
        "segmenter": segment.engine_name(),
    }
    save_model(models_dir, task, model, card)
    return card


def train_transformer_task(task: str, base: Path, data_dir: Path, models_dir: Path, progress=print,
                           data_file: Path | None = None, corrections: Labelled | None = None,
                           epochs: int = 2, quantize: bool = False) -> dict:
    """Fine-tune the encoder in ``base`` for a task on the same split as the TF-IDF model;
    the pipeline uses it for that task from then on. Corrections join the training part.
    The model is not refitted on all the data (hours on a CPU for a base-size encoder):
    the held-out figures describe exactly the model in use."""
    from nlp.transformer import TransformerClassifier, fine_tune

    if task not in STRENGTH:
        raise ValueError(f"the transformers backend trains rumor, sentiment and emotion, not {task}")
    path = Path(data_file) if data_file else Path(data_dir) / TRAINING_FILES[task]
    if not path.exists():
        raise FileNotFoundError(f"no training data for {task}: {path} is missing (set CRISISWATCH_DATA or --data)")
    if not (Path(base) / "config.json").exists():
        raise FileNotFoundError(f"{base} holds no model saved with save_pretrained (config.json is missing)")
    data = read_task(task, path)
    train_rows, test_rows = train_test_split(np.arange(len(data.labels)), test_size=0.2, random_state=SEED,
                                             stratify=data.labels)
    texts = [data.texts[i] for i in train_rows] + (corrections.texts if corrections else [])
    labels = [data.labels[i] for i in train_rows] + (corrections.labels if corrections else [])
    progress(f"{task}: fine-tuning {base} on {len(texts)} texts for {epochs} epochs")
    folder = Path(models_dir) / f"{task}-transformers"
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    fine_tune(Path(base), texts, labels, staging, epochs=epochs)
    model = TransformerClassifier(staging, quantize=quantize)
    held_out = metrics([data.labels[i] for i in test_rows], list(model.predict_texts([data.texts[i] for i in test_rows])))
    progress(f"{task}: held-out accuracy {held_out['accuracy']}, macro-F1 {held_out['macro_f1']}")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:8]
    card = {
        "task": task,
        "version": f"{task}-transformers-{Path(base).name}-{digest}" + ("-int8" if quantize else ""),
        "backend": "transformers",
        "model_dir": folder.name,
        "base": str(base),
        "quantized": quantize,
        "algorithm": f"fine-tuned encoder from {base}, {epochs} epochs" + (", int8 dynamic quantization" if quantize else ""),
        **_provenance(task, path, digest, corrections, labels, held_out),
    }
    write_card(models_dir, task, card)
    return card
