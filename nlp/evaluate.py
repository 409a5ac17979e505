"""Measure the model a task uses now on a labelled file in the format of its training file."""

from __future__ import annotations

from pathlib import Path

from nlp.datasets import ced_labelled, check_labels, read_ced_records, read_task
from nlp.models import load_model
from nlp.ner import evaluate_ner
from nlp.train import featurize_data, metrics


def evaluate_task(task: str, models_dir: Path, path: Path, hours: float | None = None) -> dict:
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support, with the model's version.

    For ``ner`` the classes are entity kinds measured on exact spans, and accuracy is per character.
    With ``hours`` (rumor only) each post is judged as it stood that long after it was posted,
    with only the replies made by then; the figures with every reply follow under ``all_replies``."""
    if hours is not None and task != "rumor":
        raise ValueError(f"--hours judges rumors by the replies of their first hours; {task} has no replies")
    if task == "ner":
        return evaluate_ner(models_dir, path)
    if hours is not None:
        records = read_ced_records(Path(path))
        return {**_evaluate(task, models_dir, path, ced_labelled(records, hours)), "hours": hours,
                "all_replies": _evaluate(task, models_dir, path, ced_labelled(records))}
    return _evaluate(task, models_dir, path, read_task(task, Path(path)))


def _evaluate(task: str, models_dir: Path, path: Path, data) -> dict:
    model = load_model(models_dir, task)
    if not data.texts:
        raise ValueError(f"{path} holds no labelled {task} examples (is it in the format of the training file?)")
    check_labels(task, path, data.labels, [str(label) for label in model.classifier.classes_])
    if getattr(model.classifier, "reads_text", False):  # a fine-tuned encoder reads the texts
        probabilities = model.classifier.predict_proba_texts(data.texts)
    else:
        probabilities = model.classifier.predict_proba(featurize_data(data))
    predicted = [str(label) for label in model.classifier.classes_[probabilities.argmax(axis=1)]]
    return {**metrics(data.labels, predicted), "task": task, "model": model.version,
            "fallback": model.is_fallback, "data": str(path)}
