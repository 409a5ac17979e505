"""Polarity (negative / neutral / positive) from the sentiment and emotion models.

No training file has a polarity label, and none has a neutral class, so polarity is
derived, not trained: each model's probabilities are split into the positive and the
negative side (surprise belongs to neither), the two models are averaged, and a post is
neutral when neither side wins by ``MARGIN``, as a factual notice does. The score is the
winning side's probability, or for neutral one minus the gap between the sides.
"""

from __future__ import annotations

import numpy as np

POSITIVE = frozenset({"positive", "optimism", "gratitude"})
NEGATIVE = frozenset({"weak_negative", "anger", "anxiety", "fear", "disgust", "sadness"})
MARGIN = 0.3
LABELS = ("negative", "neutral", "positive")


def _side(labels: list[str], side: frozenset[str]) -> np.ndarray:
    return np.array([label in side for label in labels], dtype=float)


def polarities(sentiment: np.ndarray, sentiment_labels: list[str], emotion: np.ndarray,
               emotion_labels: list[str]) -> list[tuple[str, float]]:
    """(label, score) of each post (row) from its sentiment and emotion probabilities."""
    positive = (sentiment @ _side(sentiment_labels, POSITIVE) + emotion @ _side(emotion_labels, POSITIVE)) / 2
    negative = (sentiment @ _side(sentiment_labels, NEGATIVE) + emotion @ _side(emotion_labels, NEGATIVE)) / 2
    gap = positive - negative
    labels = np.where(gap >= MARGIN, "positive", np.where(-gap >= MARGIN, "negative", "neutral"))
    scores = np.where(gap >= MARGIN, positive, np.where(-gap >= MARGIN, negative, 1 - np.abs(gap))).round(3)
    return list(zip(labels.tolist(), scores.tolist()))
