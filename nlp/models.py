"""Trained models on disk: ``<models_dir>/<task>.joblib`` with a readable ``<task>.json`` card.

When a task has no trained model (no data to train it from), ``load_model`` returns the
clearly marked lexicon fallback of ``nlp.fallback`` instead, so the product still runs.
A model trained on another feature layout (an older crisiswatch) is not loaded: it is
reported as outdated, and the demo retrains it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib

from nlp import fallback
from nlp.features import VERSION as FEATURES

TASKS = ("rumor", "sentiment", "emotion")


class ModelOutdated(RuntimeError):
    """A stored model reads features this version no longer computes."""


@dataclass
class Model:
    task: str
    version: str
    classifier: object  # anything with ``classes_`` and ``predict_proba(list of token lists)``
    card: dict

    @property
    def is_fallback(self) -> bool:
        return self.card.get("fallback", False)


def model_path(models_dir: Path, task: str) -> Path:
    return Path(models_dir) / f"{task}.joblib"


def save_model(models_dir: Path, task: str, classifier, card: dict) -> Path:
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    path = model_path(models_dir, task)
    tmp = path.with_suffix(".tmp")
    joblib.dump({"classifier": classifier, "card": card}, tmp)
    tmp.replace(path)  # atomic: a reader never sees half a model
    path.with_suffix(".json").write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_model(models_dir: Path, task: str) -> Model:
    path = model_path(models_dir, task)
    if not path.exists():
        classifier = fallback.CLASSIFIERS[task]()
        card = {"task": task, "version": classifier.version, "fallback": True,
                "note": "lexicon fallback: no trained model; run `crisiswatch train` with the data present"}
        return Model(task, classifier.version, classifier, card)
    card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    if card.get("features") != FEATURES:
        raise ModelOutdated(f"the {task} model at {path} was trained by an older crisiswatch; "
                            f"run `crisiswatch train {task}` (or `crisiswatch demo`, which retrains it)")
    stored = joblib.load(path)
    return Model(task, card["version"], stored["classifier"], stored["card"])


def is_current(models_dir: Path, task: str) -> bool:
    """Whether a trained model of this task exists and fits this version's features."""
    card_file = model_path(models_dir, task).with_suffix(".json")
    return card_file.exists() and json.loads(card_file.read_text(encoding="utf-8")).get("features") == FEATURES


def model_cards(models_dir: Path) -> dict[str, dict]:
    """The card of the model each task uses now (the fallback's where none is trained)."""
    cards = {}
    for task in TASKS:
        card_file = model_path(models_dir, task).with_suffix(".json")
        if card_file.exists():
            cards[task] = json.loads(card_file.read_text(encoding="utf-8"))
        else:
            cards[task] = load_model(models_dir, task).card
    return cards


def task_classes(models_dir: Path) -> dict[str, list[str]]:
    """The labels each task's model (or its fallback) gives, read from the cards, not the models."""
    return {task: [str(c) for c in card.get("classes") or fallback.CLASSIFIERS[task].classes_]
            for task, card in model_cards(models_dir).items()}
