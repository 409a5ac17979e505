"""Named entities (places, organisations, persons) by a character CRF trained on MSRA.

The gazetteer of ``nlp.places`` knows administrative divisions; this model finds the
names it cannot know (a village, a substation, 幸福小区, a company's branch). Chinese
NER is done per character here, as the MSRA data is labelled: each character is
described by itself, its neighbours two either side and the pairs around it, and a
linear-chain CRF (CRFsuite, through ``python-crfsuite``) picks the BIO tags. On this
machine it trains on the 44,000 sentences of an 80 % split in about four minutes and
tags about 300,000 characters a second.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pycrfsuite

from nlp.datasets import LICENCES, read_char_bio

FEATURES = "chars-window2-pairs-1"
KINDS = ("LOC", "ORG", "PER")
ITERATIONS = 100
SEED = 42


def model_file(models_dir: Path) -> Path:
    return Path(models_dir) / "ner.crfsuite"


def card_file(models_dir: Path) -> Path:
    return Path(models_dir) / "ner.json"


def char_features(text: str) -> list[list[str]]:
    padded = f"^^{text}$$"
    return [
        [f"c={c}", f"p={p}", f"n={n}", f"pp={pp}", f"nn={nn}", f"pc={p}{c}", f"cn={c}{n}", f"pn={p}{n}"]
        for pp, p, c, n, nn in zip(padded, padded[1:], padded[2:], padded[3:], padded[4:])
    ]


def spans(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, kind) of each entity in a BIO tag sequence; a stray I- starts one."""
    found, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        if tag == "O" or tag.startswith("B-") or tag[2:] != kind:
            if start is not None:
                found.add((start, i, kind))
            start, kind = (i, tag[2:]) if tag != "O" else (None, None)
    return found


@dataclass
class Entities:
    """A trained tagger; ``find`` gives (text, kind) of each entity of a text."""

    tagger: pycrfsuite.Tagger
    version: str

    def tags(self, text: str) -> list[str]:
        return self.tagger.tag(char_features(text)) if text else []

    def find(self, text: str) -> list[tuple[str, str]]:
        return [(text[start:end], kind) for start, end, kind in sorted(spans(self.tags(text)))]


def load_entities(models_dir: Path) -> Entities | None:
    """The trained tagger, or None where there is none (or it is of another feature layout)."""
    card, path = card_file(models_dir), model_file(models_dir)
    if not (card.exists() and path.exists()):
        return None
    about = json.loads(card.read_text(encoding="utf-8"))
    if about.get("features") != FEATURES:
        return None
    tagger = pycrfsuite.Tagger()
    tagger.open(str(path))
    return Entities(tagger, about["version"])


def measure(entities: Entities, sentences: list[tuple[str, list[str]]]) -> dict:
    """Entity-level precision / recall / F1 per kind (exact spans), tag accuracy per character."""
    hit, predicted, expected = Counter(), Counter(), Counter()
    right = chars = 0
    for text, truth in sentences:
        guess = entities.tags(text)
        right += sum(g == t for g, t in zip(guess, truth))
        chars += len(truth)
        ours, theirs = spans(guess), spans(truth)
        hit.update(kind for _, _, kind in ours & theirs)
        predicted.update(kind for _, _, kind in ours)
        expected.update(kind for _, _, kind in theirs)
    per_class = {}
    for kind in KINDS:
        precision = hit[kind] / predicted[kind] if predicted[kind] else 0.0
        recall = hit[kind] / expected[kind] if expected[kind] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[kind] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                           "support": expected[kind]}
    return {
        "accuracy": round(right / chars, 4) if chars else 0.0,
        "macro_f1": round(sum(v["f1"] for v in per_class.values()) / len(KINDS), 4),
        "per_class": per_class,
        "n": len(sentences),
    }


def train_ner(path: Path, models_dir: Path, progress=print, iterations: int = ITERATIONS) -> dict:
    """Train on 80 % of a character BIO file and measure on the rest; save and return the card."""
    sentences = read_char_bio(path)
    if not sentences:
        raise ValueError(f"{path} holds no tagged sentences (one `字<TAB>TAG` per line, a blank line between)")
    order = list(range(len(sentences)))
    random.Random(SEED).shuffle(order)
    cut = int(len(order) * 0.8)
    train, held_out = [sentences[i] for i in order[:cut]], [sentences[i] for i in order[cut:]]
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_file(models_dir).with_suffix(".tmp")
    progress(f"ner: fitting a CRF on {len(train)} sentences ({iterations} iterations; a few minutes), "
             f"measuring on {len(held_out)}")
    _fit(train, tmp, iterations)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(tmp))
    measured = measure(Entities(tagger, "held-out"), held_out)
    tagger.close()
    progress(f"ner: held-out place F1 {measured['per_class']['LOC']['f1']}, macro-F1 {measured['macro_f1']}")
    # Unlike the classifiers, the model is not refitted on all the data: the fit takes
    # minutes, and the figures then describe exactly the model in use.
    tmp.replace(model_file(models_dir))  # atomic: a reader never sees half a model
    digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]
    card = {
        "task": "ner",
        "version": f"ner-crf-{digest}",
        "algorithm": "linear-chain CRF over characters, their neighbours and pairs (CRFsuite)",
        "features": FEATURES,
        "data": str(path),
        "data_sha1": digest,
        "licence": LICENCES["ner"],
        "classes": list(KINDS),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "held_out": measured,
    }
    card_file(models_dir).write_text(json.dumps(card, ensure_ascii=False, indent=2), encoding="utf-8")
    return card


def _fit(sentences: list[tuple[str, list[str]]], target: Path, iterations: int) -> None:
    trainer = pycrfsuite.Trainer(verbose=False)
    for text, tags in sentences:
        trainer.append(char_features(text), tags)
    trainer.set_params({"c1": 0.05, "c2": 0.01, "max_iterations": iterations, "feature.possible_transitions": True})
    trainer.train(str(target))


def evaluate_ner(models_dir: Path, path: Path) -> dict:
    entities = load_entities(models_dir)
    if entities is None:
        raise ValueError("no trained NER model in this home; run `crisiswatch train ner`")
    sentences = read_char_bio(Path(path))
    if not sentences:
        raise ValueError(f"{path} holds no tagged sentences (one `字<TAB>TAG` per line, a blank line between)")
    return {**measure(entities, sentences), "task": "ner", "model": entities.version, "fallback": False,
            "data": str(path)}
