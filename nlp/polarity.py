"""Polarity (negative / neutral / positive) from the sentiment and emotion models.

No training file has a polarity label, and none has a neutral class, so polarity is
derived, not trained: each model's probabilities are split into the positive and the
negative side (surprise belongs to neither), the two models are averaged, and a post is
neutral when neither side wins by ``MARGIN``, as a factual notice does. The score is the
winning side's probability, or for neutral one minus the gap between the sides.
"""

from __future__ import annotations

POSITIVE = frozenset({"positive", "optimism", "gratitude"})
NEGATIVE = frozenset({"weak_negative", "anger", "anxiety", "fear", "disgust", "sadness"})
MARGIN = 0.3


def _sides(probabilities: dict[str, float]) -> tuple[float, float]:
    return (sum(p for label, p in probabilities.items() if label in POSITIVE),
            sum(p for label, p in probabilities.items() if label in NEGATIVE))


def polarity(sentiment: dict[str, float], emotion: dict[str, float]) -> tuple[str, float]:
    """(label, score) of one post from its sentiment and emotion probabilities."""
    sides = [_sides(probabilities) for probabilities in (sentiment, emotion) if probabilities]
    positive = sum(p for p, _ in sides) / len(sides)
    negative = sum(n for _, n in sides) / len(sides)
    if positive - negative >= MARGIN:
        return "positive", round(positive, 3)
    if negative - positive >= MARGIN:
        return "negative", round(negative, 3)
    return "neutral", round(1 - abs(positive - negative), 3)
