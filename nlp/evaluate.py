"""Measure the model a task uses now on a labelled file in the format of its training file."""

from __future__ import annotations

from pathlib import Path

from nlp.datasets import read_task
from nlp.models import load_model
from nlp.train import featurize_data, metrics


def evaluate_task(task: str, models_dir: Path, path: Path) -> dict:
    """Accuracy, macro-F1 and per-class precision / recall / F1 / support, with the model's version."""
    model = load_model(models_dir, task)
    data = read_task(task, Path(path))
    if not data.texts:
        raise ValueError(f"{path} holds no labelled {task} examples (is it in the format of the training file?)")
    probabilities = model.classifier.predict_proba(featurize_data(data))
    predicted = [str(label) for label in model.classifier.classes_[probabilities.argmax(axis=1)]]
    return {**metrics(data.labels, predicted), "task": task, "model": model.version,
            "fallback": model.is_fallback, "data": str(path)}
