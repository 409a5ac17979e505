"""Named entities (places, organisations, persons) by a character CRF trained on MSRA.

The gazetteer of ``nlp.places`` knows administrative divisions; this model finds the
names it cannot know (a village, a substation, 幸福小区, a company's branch). Chinese
NER is done per character here, as the MSRA data is labelled: each character is
described by itself, its neighbours two either side and the pairs around it, and a
linear-chain CRF (CRFsuite, through ``python-crfsuite``) picks the BIO tags. On this
machine it trains on the 44,000 sentences of an 80 % split in about four minutes.

CRFsuite trains the model; ``Decoder`` tags with it. Asking CRFsuite to tag cost a Python
string per feature of every character (eight a character) and a call per text: about
600 microseconds a topical post. The decoder reads the trained weights into arrays once,
scores every character of a batch with a few gathers, and runs Viterbi over all the
batch's clauses at once, one step per character position. The chain of tags is cut
after the clause marks of CLAUSE_ENDS (，。！？；：, their ASCII forms and new lines), each
tagged O, so that a step holds many short clauses, not a few long texts: the tags are
CRFsuite's wherever CRFsuite tags those marks O, as it nearly always does (a name does
not span one). A clause longer than MAX_CLAUSE is also cut, where no mark is. The figures
of ``measure`` are those of the decoder, as used.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pycrfsuite

from nlp.datasets import LICENCES, check_labels, read_char_bio

FEATURES = "chars-window2-pairs-1"
KINDS = ("LOC", "ORG", "PER")
BIO_TAGS = ("O", *(f"{edge}-{kind}" for kind in KINDS for edge in "BI"))
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


# Each feature of char_features: a neighbour at an offset (pp, p, c, n, nn), or a pair.
SINGLES = {"pp": -2, "p": -1, "c": 0, "n": 1, "nn": 2}
PAIRS = {"pc": (-1, 0), "cn": (0, 1), "pn": (-1, 1)}
CLAUSE_ENDS = "，。！？；：,!?;:\n"  # the chain of tags is cut after these
MAX_CLAUSE = 100  # and a longer clause is cut every MAX_CLAUSE characters


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing's multiplier


@dataclass
class KeyTable:
    """Row numbers of non-negative int64 keys, by open addressing (linear probing, at most
    a quarter full): looking up a batch's keys costs a gather or two each, in a table of a
    few MB, where a binary search over the sorted keys cost eighteen (the NER scores of a
    topical post: 61 -> 32 µs)."""

    slots: np.ndarray  # (2**bits,) the key in each slot, -1 where empty
    rows: np.ndarray  # (2**bits,) the row of the key in that slot
    bits: int

    @classmethod
    def of(cls, keys: np.ndarray) -> KeyTable:
        bits = max(4, (4 * len(keys)).bit_length())
        table = cls(np.full(1 << bits, -1, dtype=np.int64), np.zeros(1 << bits, dtype=np.int64), bits)
        pending, at = np.arange(len(keys)), table._home(keys)
        while len(pending):  # each round, the first key aiming at each free slot takes it
            free = table.slots[at] == -1
            taken, first = np.unique(at[free], return_index=True)
            winners = pending[free][first]
            table.slots[taken], table.rows[taken] = keys[winners], winners
            left = ~np.isin(pending, winners)
            pending, at = pending[left], (at[left] + 1) & ((1 << bits) - 1)
        return table

    def _home(self, keys: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return ((keys.astype(np.uint64) * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, or -1 for a key the table does not hold."""
        out = np.full(len(keys), -1, dtype=np.int64)
        pending, at = np.arange(len(keys)), self._home(keys)
        while len(pending):
            held = self.slots[at]
            hit = held == keys[pending]
            out[pending[hit]] = self.rows[at[hit]]
            go_on = ~hit & (held != -1)
            pending, at = pending[go_on], (at[go_on] + 1) & ((1 << self.bits) - 1)
        return out


@dataclass
class Decoder:
    """A trained CRF as arrays: the weight of each feature for each tag, and of each
    transition from one tag to the next (CRFsuite's linear chain has no start or end)."""

    labels: list[str]
    transitions: np.ndarray  # (tags, tags): from, to
    char_ids: np.ndarray  # code point -> row (0: a character no feature names)
    singles: dict[str, np.ndarray]  # kind -> (rows, tags)
    pairs: dict[str, tuple[KeyTable, np.ndarray]]  # kind -> (rows of the keys row * width + row, (keys, tags))

    @classmethod
    def of(cls, tagger: pycrfsuite.Tagger) -> Decoder:
        info = tagger.info()
        labels = sorted(info.labels, key=lambda label: int(info.labels[label]))
        tag = {label: i for i, label in enumerate(labels)}
        transitions = np.zeros((len(labels), len(labels)), dtype=np.float32)
        for (before, after), weight in info.transitions.items():
            transitions[tag[before], tag[after]] = weight
        features = [(kind, value, tag[label], weight)
                    for (attribute, label), weight in info.state_features.items()
                    for kind, value in [attribute.split("=", 1)]
                    if len(value) == (1 if kind in SINGLES else 2)]
        chars = sorted({ch for _, value, _, _ in features for ch in value})
        char_ids = np.zeros(0x110000, dtype=np.int32)
        char_ids[[ord(ch) for ch in chars]] = np.arange(1, len(chars) + 1)
        width = len(chars) + 1
        singles = {kind: np.zeros((width, len(labels)), dtype=np.float32) for kind in SINGLES}
        pair_weights: dict[str, dict[int, np.ndarray]] = {kind: {} for kind in PAIRS}
        for kind, value, label, weight in features:
            if kind in singles:
                singles[kind][char_ids[ord(value)], label] = weight
            else:
                key = int(char_ids[ord(value[0])]) * width + int(char_ids[ord(value[1])])
                pair_weights[kind].setdefault(key, np.zeros(len(labels), dtype=np.float32))[label] = weight
        pairs = {}
        for kind, weights in pair_weights.items():
            keys = np.fromiter(weights, dtype=np.int64, count=len(weights))
            pairs[kind] = (KeyTable.of(keys),
                           np.array(list(weights.values()), dtype=np.float32).reshape(-1, len(labels)))
        return cls(labels, transitions, char_ids, singles, pairs)

    def _scores(self, texts: list[str]) -> np.ndarray:
        """(characters, tags): the weight of each tag at each character of the texts, end to end."""
        padded = "".join(f"^^{text}$$" for text in texts)  # as char_features pads each text
        ids = self.char_ids[np.frombuffer(padded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        firsts = np.cumsum(lengths + 4) - lengths - 2  # where each text's first character lies in ``padded``
        centres = np.repeat(firsts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        scores = sum(self.singles[kind][ids[centres + offset]] for kind, offset in SINGLES.items())
        width = len(self.singles["c"])
        for kind, (before, after) in PAIRS.items():
            table, weights = self.pairs[kind]
            found = table.find(ids[centres + before].astype(np.int64) * width + ids[centres + after])
            known = found >= 0
            scores[known] += weights[found[known]]
        return scores

    def _best(self, texts: list[str]) -> np.ndarray:
        """The tag (its number) of every character of the texts, end to end: the Viterbi
        path of each of their clauses."""
        if not any(texts):
            return np.zeros(0, dtype=np.int64)
        return _viterbi(self._scores(texts), _clauses(texts), self.transitions, self.labels.index("O"))

    def tags(self, texts: list[str]) -> list[list[str]]:
        """The BIO tags of each text's characters."""
        labels = np.array(self.labels)[self._best(texts)].tolist()
        out, at = [], 0
        for text in texts:
            out.append(labels[at : at + len(text)])
            at += len(text)
        return out

    def spans(self, texts: list[str]) -> list[list[tuple[int, int, str]]]:
        """(start, end, kind) of each entity of each text, in order: what ``spans`` reads
        from ``tags``, found with array operations instead of a Python step per character."""
        best = self._best(texts)
        kinds = sorted({label[2:] for label in self.labels if label != "O"})
        kind_of = np.array([0 if label == "O" else 1 + kinds.index(label[2:]) for label in self.labels])[best]
        begins = np.array([label.startswith("B-") for label in self.labels])[best]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        text_ends = np.cumsum(lengths)
        before = np.concatenate(([0], kind_of[:-1]))
        before[text_ends[:-1][text_ends[:-1] < len(best)]] = 0  # a text's first character follows nothing
        begin = (kind_of != 0) & (begins | (before != kind_of))  # a B- tag, or another kind than before
        starts = np.flatnonzero(begin)
        stops = np.append(np.flatnonzero((kind_of == 0) | begin), len(best))  # where an entity ends at the latest
        ends = stops[np.searchsorted(stops, starts, side="right")]
        of_text = np.searchsorted(text_ends, starts, side="right")
        out: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        offsets = text_ends - lengths
        for start, end, t, kind in zip(starts.tolist(), ends.tolist(), of_text.tolist(), kind_of[starts].tolist()):
            out[t].append((start - int(offsets[t]), end - int(offsets[t]), kinds[kind - 1]))
        return out


def _clauses(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each clause of the texts laid end to end: its start, its length, whether it begins
    its text, and whether it ends at a mark that another clause of its text follows. A
    clause ends after a CLAUSE_ENDS character, at the end of its text, or after MAX_CLAUSE
    characters."""
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    marks = np.isin(codes, np.frombuffer(CLAUSE_ENDS.encode("utf-32-le"), dtype=np.uint32))
    text_ends = np.cumsum([len(t) for t in texts if t])
    ends = marks.copy()
    ends[text_ends - 1] = True
    cuts = np.flatnonzero(ends) + 1
    starts = np.concatenate(([0], cuts[:-1]))
    lengths = cuts - starts
    if (lengths > MAX_CLAUSE).any():  # cut the long ones into pieces of MAX_CLAUSE
        pieces = -(-lengths // MAX_CLAUSE)
        offsets = (np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces)) * MAX_CLAUSE
        starts = np.repeat(starts, pieces) + offsets
        lengths = np.minimum(np.repeat(lengths, pieces) - offsets, MAX_CLAUSE)
    last = starts + lengths - 1
    return starts, lengths, np.isin(starts, text_ends[:-1]) | (starts == 0), marks[last] & ~np.isin(last + 1, text_ends)


def _viterbi(scores: np.ndarray, clauses: tuple[np.ndarray, ...], transitions: np.ndarray, outside: int) -> np.ndarray:
    """The best tag of every character: Viterbi over all clauses at once, longest first,
    so that the clauses still running at each step are the first ones. The mark that ends
    a clause (when another follows in its text) is tagged ``outside`` (O), and the next
    clause starts from it: so the path is the text's best path among those that tag the
    marks O, and the very best path wherever that one does."""
    starts, lengths, firsts, closes = clauses
    order = np.argsort(-lengths, kind="stable")
    starts, lengths, firsts, closes = starts[order], lengths[order], firsts[order], closes[order]
    steps = int(lengths[0])
    running = np.searchsorted(-lengths, -np.arange(steps + 1), side="left")  # running[t]: clauses longer than t
    delta = scores[starts] + np.where(firsts[:, None], 0, transitions[outside])
    back = []
    for t in range(1, steps):
        n = running[t]
        candidates = delta[:n, :, None] + transitions  # (clauses, from, to)
        best = candidates.argmax(axis=1)
        back.append(best)
        delta[:n] = np.take_along_axis(candidates, best[:, None, :], axis=1)[:, 0, :] + scores[starts[:n] + t]
    out = np.empty(len(scores), dtype=np.int64)
    current = np.where(closes, outside, delta.argmax(axis=1))  # each clause's last tag
    for t in range(steps - 1, -1, -1):
        n = running[t]
        out[starts[:n] + t] = current[:n]
        if t:
            current[:n] = back[t - 1][np.arange(n), current[:n]]
    return out


@dataclass
class Entities:
    """A trained tagger; ``find`` gives (text, kind) of each entity of each text."""

    decoder: Decoder
    version: str

    def find(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        return [[(text[start:end], kind) for start, end, kind in found]
                for text, found in zip(texts, self.decoder.spans(texts))]


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
    try:
        return Entities(Decoder.of(tagger), about["version"])
    finally:
        tagger.close()


def measure(entities: Entities, sentences: list[tuple[str, list[str]]]) -> dict:
    """Entity-level precision / recall / F1 per kind (exact spans), tag accuracy per character."""
    hit, predicted, expected = Counter(), Counter(), Counter()
    right = chars = 0
    for (text, truth), guess in zip(sentences, entities.decoder.tags([text for text, _ in sentences])):
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
    measured = measure(Entities(Decoder.of(tagger), "held-out"), held_out)
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
    sentences = read_char_bio(Path(path))
    check_labels("ner", path, (tag for _, tags in sentences for tag in tags), BIO_TAGS)
    entities = load_entities(models_dir)
    if entities is None:
        raise ValueError("no trained NER model in this home; run `crisiswatch train ner`")
    if not sentences:
        raise ValueError(f"{path} holds no tagged sentences (one `字<TAB>TAG` per line, a blank line between)")
    return {**measure(entities, sentences), "task": "ner", "model": entities.version, "fallback": False,
            "data": str(path)}
