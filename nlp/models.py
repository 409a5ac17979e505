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

from nlp import fallback, ner, polarity, topics
from nlp.features import VERSION as FEATURES

CLASSIFIER_TASKS = ("rumor", "sentiment", "emotion")
TASKS = (*CLASSIFIER_TASKS, "ner")
# The feature layout a model of each task must have been trained on to be used.
EXPECTED_FEATURES = {**{task: FEATURES for task in CLASSIFIER_TASKS}, "ner": ner.FEATURES}
NO_NER_CARD = {"task": "ner", "version": "ner-none", "fallback": True,
               "note": "no NER model: only gazetteer places and listed organisations are tagged; run `crisiswatch train ner`"}


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
    write_card(models_dir, task, card)
    return path


def write_card(models_dir: Path, task: str, card: dict) -> None:
    """The card names the model a task uses now (its backend, version, held-out figures)."""
    path = Path(models_dir) / f"{task}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(path)


def load_model(models_dir: Path, task: str) -> Model:
    path, card_file = model_path(models_dir, task), Path(models_dir) / f"{task}.json"
    if not card_file.exists():
        classifier = fallback.CLASSIFIERS[task]()
        return Model(task, classifier.version, classifier, fallback_card(task))
    card = json.loads(card_file.read_text(encoding="utf-8"))
    if card.get("backend") == "transformers":  # torch is an optional extra: imported only here
        from nlp.transformer import TransformerClassifier

        classifier = TransformerClassifier(Path(models_dir) / card["model_dir"], quantize=card.get("quantized", False))
        return Model(task, card["version"], classifier, card)
    if card.get("features") != FEATURES:
        raise ModelOutdated(f"the {task} model at {path} was trained by an older crisiswatch; "
                            f"run `crisiswatch train {task}` (or `crisiswatch demo`, which retrains it)")
    stored = joblib.load(path)
    return Model(task, card["version"], stored["classifier"], stored["card"])


def fallback_card(task: str) -> dict:
    """The card of a classifier task's lexicon fallback (read from its class: building one costs 20 ms)."""
    return {"task": task, "version": fallback.CLASSIFIERS[task].version, "fallback": True,
            "note": "lexicon fallback: no trained model; run `crisiswatch train` with the data present"}


def is_current(models_dir: Path, task: str) -> bool:
    """Whether a trained model of this task exists and fits this version's features."""
    card_file = Path(models_dir) / f"{task}.json"
    if not card_file.exists():
        return False
    card = json.loads(card_file.read_text(encoding="utf-8"))
    if card.get("backend") == "transformers":
        return (Path(models_dir) / card["model_dir"]).is_dir()
    return card.get("features") == EXPECTED_FEATURES[task]


def model_cards(models_dir: Path) -> dict[str, dict]:
    """The card of the model each task uses now (the fallback's where none is trained)."""
    cards = {}
    for task in TASKS:
        card_file = Path(models_dir) / f"{task}.json"
        if card_file.exists():
            cards[task] = json.loads(card_file.read_text(encoding="utf-8"))
        else:
            cards[task] = NO_NER_CARD if task == "ner" else fallback_card(task)
    return cards


def task_classes(models_dir: Path) -> dict[str, list[str]]:
    """The labels each classifier's model (or its fallback) gives, read from the cards, not the models."""
    return {task: [str(c) for c in card.get("classes") or fallback.CLASSIFIERS[task].classes_]
            for task, card in model_cards(models_dir).items() if task in CLASSIFIER_TASKS}


def filter_labels(models_dir: Path) -> dict[str, list[str]]:
    """The values a search may filter on, by ``SearchQuery`` field (see
    ``indexes.query.check_labels``): the sentiment and emotion models' classes with the
    lexicon fallback's (posts tagged before a model was trained keep those), the three
    polarities, and the taxonomy's topics (learnt topics are taxonomy topics)."""
    classes = task_classes(models_dir)
    return {
        "polarities": list(polarity.LABELS),
        **{f"{task}s": list(dict.fromkeys([*classes.get(task, []), *map(str, fallback.CLASSIFIERS[task].classes_)]))
           for task in ("sentiment", "emotion")},
        "topics": [t.label for t in topics.load_taxonomy()],
    }
