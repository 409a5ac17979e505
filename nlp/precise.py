"""The precise tier: the shared encoder fine-tuned per task, re-tagging the posts that matter.

A precise model lives in ``<models>/precise-<task>/`` (task sentiment or emotion): a
transformers ``BertForSequenceClassification`` saved with ``save_pretrained`` (its
``config.json`` names the labels in ``id2label``), the encoder's ``vocab.txt`` and
``card.json`` (task, labels, the encoder it was fine-tuned from, its figures). It reads
posts with the encoder's own tokeniser (``nlp.encoder.CharTokenizer``), in batches sorted
by length, in int8. Polarity follows from the two models' probabilities as in the fast
tier (``nlp.polarity``). Precise tags are kept beside the fast ones (``core.store``), and
a post is re-tagged once per version of the two models, a batch per transaction.

Where training found that it helps, the folder also holds ``stacking.joblib``: a linear
model on the fast tier's features, fitted on the training rows only, and the share of the
precise model in the two models' weighted geometric mean, chosen on the validation rows;
the model's probabilities are then the mixed ones (its card says so under ``stacking``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
from scipy.special import softmax

from core.store import Store
from nlp.datasets import Labelled
from nlp.encoder import FILES, CharTokenizer, EncoderUnavailable
from nlp.features import VERSION as FEATURES
from nlp.polarity import polarities

TASKS = ("sentiment", "emotion")
CARD = "card.json"
STACKING = "stacking.joblib"


def model_dir(models_dir: Path, task: str) -> Path:
    return models_dir / f"precise-{task}"


def model_problem(models_dir: Path, task: str) -> str | None:
    """Why the precise model of ``task`` cannot be read, in one line (its files missing, its
    card or its weights' header damaged); None where it can. Cheap: the weights are not loaded."""
    folder = model_dir(models_dir, task)
    missing = [name for name in (*FILES, CARD) if not (folder / name).is_file()]
    if missing:
        return (f"no precise {task} model: {folder} lacks {', '.join(missing)} "
                f"(crisiswatch train {task} --tier precise makes it)")
    try:
        if not isinstance(json.loads((folder / CARD).read_text(encoding="utf-8")), dict):
            raise ValueError("not a JSON object")
        _check_weights(folder / "model.safetensors")
    except ValueError as err:  # JSON's and UTF-8's errors are ValueErrors
        return (f"the precise {task} model in {folder} is damaged ({err}): "
                f"crisiswatch train {task} --tier precise makes it anew")
    return None


def _check_weights(path: Path) -> None:
    """Raise ValueError where the safetensors file's header cannot be read or its tensors
    do not fill the file (a copy cut short): the format's 8-byte header length, the JSON
    header, then the tensors' bytes."""
    with path.open("rb") as weights:
        length = int.from_bytes(weights.read(8), "little")
        if length > path.stat().st_size - 8:
            raise ValueError("model.safetensors: its header runs past the file's end")
        header = json.loads(weights.read(length))
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    if 8 + length + max(ends, default=0) != path.stat().st_size:
        raise ValueError("model.safetensors: its tensors do not fill the file (a copy cut short?)")


def problem(models_dir: Path) -> str | None:
    """Why the precise tier cannot tag in this models folder, in one line; None where it can."""
    for task in TASKS:
        folder = model_dir(models_dir, task)
        reason = model_problem(models_dir, task)
        if reason:
            return reason
        stacking = json.loads((folder / CARD).read_text(encoding="utf-8")).get("stacking", {})
        if stacking.get("stacked") and stacking.get("features") != FEATURES:
            return (f"the precise {task} model stacks a linear model trained on older features "
                    f"(crisiswatch train {task} --tier precise makes it anew)")
    return None


def save_model(models_dir: Path, task: str, model, vocab: Path, card: dict) -> Path:
    """Save a fine-tuned ``BertForSequenceClassification`` (labels in its config's
    ``id2label``) with the encoder's vocabulary and ``card`` (plus task and labels) in the
    layout :class:`PreciseModel` reads; returns its folder."""
    folder = model_dir(models_dir, task)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    shutil.copyfile(vocab, folder / "vocab.txt")
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    (folder / CARD).write_text(json.dumps({**card, "task": task, "labels": labels}, ensure_ascii=False, indent=2),
                               encoding="utf-8")
    return folder


def model_version(folder: Path) -> str:
    """A precise model's version: its task and a digest of its weights and stacking, where
    it has one (computed once per state of the files)."""
    files = [folder / name for name in ("model.safetensors", STACKING) if (folder / name).is_file()]
    return _model_version(folder, tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in files))


@lru_cache(maxsize=8)
def _model_version(folder: Path, files: tuple) -> str:
    task = json.loads((folder / CARD).read_text(encoding="utf-8"))["task"]
    digest = hashlib.sha256()
    for name, _mtime_ns, _size in files:
        digest.update((folder / name).read_bytes())
    return f"{task}:{digest.hexdigest()[:12]}"


def mix(precise: np.ndarray, linear: np.ndarray, share: float) -> np.ndarray:
    """The two models' probabilities mixed: their weighted geometric mean, normalised,
    ``share`` the precise model's weight."""
    logs = share * np.log(np.clip(precise, 1e-6, None)) + (1 - share) * np.log(np.clip(linear, 1e-6, None))
    return softmax(logs, axis=1)


@dataclass
class Stacking:
    """A linear model (``nlp.linear``, on the fast tier's features) and the precise model's
    share in the mix of their probabilities."""

    linear: object  # nlp.train's fitted model: classes_ and predict_proba(features)
    share: float

    def linear_proba(self, texts: list[str]) -> np.ndarray:
        from nlp.train import featurize_data  # scikit-learn's import takes seconds: not for status

        return self.linear.predict_proba(featurize_data(Labelled(texts, [])))

    def predict_proba(self, precise: np.ndarray, texts: list[str]) -> np.ndarray:
        return mix(precise, self.linear_proba(texts), self.share)

    def save(self, folder: Path) -> None:
        partial = folder / (STACKING + ".partial")
        joblib.dump(self, partial, compress=3)  # the linear model's hashed columns are mostly zeros
        os.replace(partial, folder / STACKING)


def tier_version(models_dir: Path) -> str:
    """``PreciseTier.version`` of the models in ``models_dir``, read without loading them (for ``status``)."""
    return "|".join(model_version(model_dir(models_dir, task)) for task in TASKS)


class PreciseModel:
    """One task's fine-tuned encoder, predicting each text's probability per label."""

    def __init__(self, folder: Path, quantize: bool = True):
        import torch
        from transformers import BertForSequenceClassification

        self.card = json.loads((folder / CARD).read_text(encoding="utf-8"))
        self.labels: list[str] = list(self.card["labels"])
        self.tokenizer = CharTokenizer.from_file(folder / "vocab.txt")
        model = BertForSequenceClassification.from_pretrained(folder, local_files_only=True).float().eval()
        if [model.config.id2label[i] for i in range(model.config.num_labels)] != self.labels:
            raise EncoderUnavailable(f"the labels of {folder / CARD} are not those of its config.json")
        if quantize:
            with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao, still works
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.filterwarnings("ignore", message=".* are deprecated", category=UserWarning)
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        stacking = folder / STACKING
        self.stacking: Stacking | None = joblib.load(stacking) if stacking.is_file() else None
        self.version = model_version(folder)

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Each text's probabilities in the order of ``labels``, rows in the order of
        ``texts``: the stacked ones where the model stacks, else the encoder's own."""
        out = self.encoder_proba(texts, batch_size)
        return out if self.stacking is None else self.stacking.predict_proba(out, texts)

    def encoder_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The fine-tuned encoder's probabilities alone."""
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for rows, ids, mask in self.tokenizer.batches(texts, batch_size, sort_by_length=True):
                logits = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
                out[rows] = torch.softmax(logits, dim=-1).numpy()
        return out


@dataclass
class PreciseTier:
    sentiment: PreciseModel
    emotion: PreciseModel

    @classmethod
    def load(cls, models_dir: Path, quantize: bool = True) -> "PreciseTier":
        reason = problem(models_dir)
        if reason:
            raise EncoderUnavailable(reason)
        models = []
        for task in TASKS:
            folder = model_dir(models_dir, task)
            try:
                models.append(PreciseModel(folder, quantize))
            except EncoderUnavailable:
                raise
            except Exception as err:  # noqa: BLE001 - whatever a damaged file raises (torch, joblib, pickle)
                raise EncoderUnavailable(f"the precise {task} model in {folder} cannot be loaded ({err!r}): "
                                         f"crisiswatch train {task} --tier precise makes it anew") from err
        return cls(*models)

    @property
    def version(self) -> str:
        """What a post's precise tags record: a post is re-tagged once per version."""
        return f"{self.sentiment.version}|{self.emotion.version}"

    def tags(self, post_ids: Sequence[int], texts: list[str]) -> list[dict]:
        """The precise tags of each post, as ``Store.save_precise_tags`` takes them."""
        sentiments = self.sentiment.predict_proba(texts).astype(np.float64).round(4)  # as the fast tier stores them
        emotions = self.emotion.predict_proba(texts).astype(np.float64).round(4)
        polarity = polarities(sentiments, self.sentiment.labels, emotions, self.emotion.labels)
        rows = []
        for i, post_id in enumerate(post_ids):
            s, e = int(sentiments[i].argmax()), int(emotions[i].argmax())
            rows.append({"post_id": post_id, "sentiment": self.sentiment.labels[s],
                         "sentiment_score": float(sentiments[i, s]), "emotion": self.emotion.labels[e],
                         "emotion_score": float(emotions[i, e]),
                         "emotion_scores": dict(zip(self.emotion.labels, emotions[i].tolist())),
                         "polarity": polarity[i][0], "polarity_score": float(polarity[i][1]),
                         "model_version": self.version})
        return rows


def tag_precisely(store: Store, tier: PreciseTier, first: Iterable[list[int]] = (), limit: int | None = None,
                  batch_size: int = 64, rest: bool = True, progress=None) -> int:
    """Re-tag precisely the posts of each list of ``first`` in turn (in its order), then,
    with ``rest``, every other tagged post newest first; returns how many, at most ``limit``.

    Each batch is one transaction and a post is selected while its precise tags are not
    of this version, so a run killed anywhere resumes with what it had not saved."""
    done = 0
    for among in [*first, None] if rest else list(first):
        while limit is None or done < limit:
            size = batch_size if limit is None else min(batch_size, limit - done)
            rows = store.posts_to_tag_precisely(tier.version, size, among)
            if not rows:
                break
            store.save_precise_tags(tier.tags([post_id for post_id, _ in rows], [text for _, text in rows]))
            done += len(rows)
            if progress is not None:
                progress.update(len(rows))
    return done
