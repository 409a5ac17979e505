"""Topic tags from the configurable outage taxonomy in ``data/topics.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

TAXONOMY_FILE = Path(__file__).with_name("data") / "topics.toml"
VERSION = "topics-rules-1"


@dataclass(frozen=True)
class Topic:
    label: str
    zh: str
    en: str
    keywords: tuple[str, ...]

    @cached_property
    def pattern(self) -> re.Pattern:
        return re.compile("|".join(re.escape(k) for k in sorted(self.keywords, key=len, reverse=True)))


def load_taxonomy(path: Path = TAXONOMY_FILE) -> list[Topic]:
    with open(path, "rb") as handle:
        raw = tomllib.load(handle)
    return [Topic(t["label"], t["zh"], t["en"], tuple(t["keywords"])) for t in raw["topic"]]


def keyword_pattern(taxonomy: list[Topic]) -> re.Pattern:
    """Any keyword of any topic: most posts mention none, and one search says so."""
    return re.compile("|".join(re.escape(k) for t in taxonomy for k in t.keywords))


def topic_scores(text: str, taxonomy: list[Topic]) -> dict[str, float]:
    """Each topic whose keywords occur in the text, scored 1 - 0.5 ** (keywords found)."""
    scores = {}
    for topic in taxonomy:
        found = len(set(topic.pattern.findall(text)))
        if found:
            scores[topic.label] = round(1 - 0.5**found, 3)
    return scores
