"""Trained models on disk: ``<models_dir>/<task>.joblib`` with a readable ``<task>.json`` card.

When a task has no trained model (no data to train it from), ``load_model`` returns the
clearly marked lexicon fallback of ``nlp.fallback`` instead, so the product still runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib

from nlp import fallback

TASKS = ("rumor", "sentiment")


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
    stored = joblib.load(path)
    card = stored["card"]
    return Model(task, card["version"], stored["classifier"], card)


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
