"""Measure the model a task uses now on a labelled file in the format of its training file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nlp import precise
from nlp.datasets import ced_labelled, check_labels, read_ced_records, read_task
from nlp.encoder import EncoderUnavailable
from nlp.models import load_model
from nlp.ner import evaluate_ner
from nlp.train import featurize_data, metrics

TIERS = ("fast", "precise")


def default_tier(task: str, models_dir: Path) -> str:
    """The tier the product tags ``task`` with: precise for sentiment and emotion where the
    precise tier's models are in the home (``tag --precise`` loads both), else fast."""
    return "precise" if task in precise.TASKS and precise.problem(models_dir) is None else "fast"


def evaluate_task(task: str, models_dir: Path, path: Path, hours: float | None = None,
                  tier: str | None = None) -> dict:
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support, with the tier and
    version of the model measured (``tier``: default, the one the product uses).

    For ``ner`` the classes are entity kinds measured on exact spans, and accuracy is per character.
    With ``hours`` (rumor only) each post is judged as it stood that long after it was posted,
    with only the replies made by then; the figures with every reply follow under ``all_replies``.
    Raises ``EncoderUnavailable`` for the precise tier of sentiment or emotion without its model."""
    if hours is not None and task != "rumor":
        raise ValueError(f"--hours judges rumors by the replies of their first hours; {task} has no replies")
    if (tier or default_tier(task, models_dir)) == "precise":
        return _evaluate_precise(task, models_dir, path)
    if task == "ner":
        result = evaluate_ner(models_dir, path)
        return {**result, "tier": "fast", "model_version": result["model"]}
    if hours is not None:
        records = read_ced_records(Path(path))
        return {**_evaluate(task, models_dir, path, ced_labelled(records, hours)), "hours": hours,
                "all_replies": _evaluate(task, models_dir, path, ced_labelled(records))}
    return _evaluate(task, models_dir, path, read_task(task, Path(path)))


def _evaluate(task: str, models_dir: Path, path: Path, data) -> dict:
    model = load_model(models_dir, task)
    _check(task, path, data)
    labels = [str(label) for label in model.classifier.classes_]
    check_labels(task, path, data.labels, labels)
    if getattr(model.classifier, "reads_text", False):  # a fine-tuned encoder reads the texts
        probabilities = model.classifier.predict_proba_texts(data.texts)
    else:
        probabilities = model.classifier.predict_proba(featurize_data(data))
    return _figures(task, path, data.labels, labels, probabilities, model.version, model.is_fallback, "fast")


def _evaluate_precise(task: str, models_dir: Path, path: Path) -> dict:
    """The precise model's figures, from its probabilities as the precise tier tags with them."""
    if task not in precise.TASKS:
        raise ValueError(f"{task} has no precise tier (only {' and '.join(precise.TASKS)} have one): "
                         f"measure it with --tier fast")
    reason = precise.model_problem(models_dir, task)
    if reason:
        raise EncoderUnavailable(reason)
    data = read_task(task, Path(path))
    _check(task, path, data)
    model = precise.PreciseModel(precise.model_dir(models_dir, task))
    check_labels(task, path, data.labels, model.labels)
    return _figures(task, path, data.labels, model.labels, model.predict_proba(data.texts), model.version, False,
                    "precise")


def _check(task: str, path: Path, data) -> None:
    if not data.texts:
        raise ValueError(f"{path} holds no labelled {task} examples (is it in the format of the training file?)")


def _figures(task: str, path: Path, truth: list[str], labels: list[str], probabilities: np.ndarray, version: str,
             fallback: bool, tier: str) -> dict:
    predicted = [labels[i] for i in probabilities.argmax(axis=1)]
    return {**metrics(truth, predicted), "task": task, "model": version, "fallback": fallback, "data": str(path),
            "tier": tier, "model_version": version}
