"""The transformers path: fine-tune a Chinese encoder from a folder on disk, tag on the CPU.

``crisiswatch train TASK --backend transformers --model-dir DIR`` fine-tunes any
encoder saved with ``save_pretrained`` (for example a chinese-roberta-wwm-ext download)
on the task's data, measures it on the same held-out fifth as the TF-IDF models, and
saves it in the home; the pipeline then uses it for that task. Nothing is fetched from
a hub (``local_files_only``). Optional int8 dynamic quantization of the linear layers
makes CPU inference about twice as fast for a small loss. torch and transformers are
the optional extra ``crisiswatch[transformers]``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

MAX_LENGTH = 128  # tokens: a Weibo post fits; a long article is read by its head


class TransformerClassifier:
    """A fine-tuned encoder with the classifier interface the pipeline uses, over texts."""

    reads_text = True

    def __init__(self, directory: Path, quantize: bool = False):
        self.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(directory, local_files_only=True).eval()
        if quantize:
            with warnings.catch_warnings():  # eager-mode quantization is deprecated in favour of torchao, still works
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        labels = model.config.id2label
        self.classes_ = np.array([labels[i] for i in range(len(labels))])

    def predict_proba_texts(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[start:start + batch_size], truncation=True, max_length=MAX_LENGTH,
                                       padding=True, return_tensors="pt")
                out.append(torch.softmax(self.model(**batch).logits, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)))

    def predict_texts(self, texts: list[str]) -> np.ndarray:
        return self.classes_[self.predict_proba_texts(texts).argmax(axis=1)]


def fine_tune(base: Path, texts: list[str], labels: list[str], target: Path, epochs: int = 2,
              batch_size: int = 16, learning_rate: float = 3e-5, seed: int = 42) -> None:
    """Fine-tune the encoder in ``base`` on (text, label) pairs and save it, with its tokenizer, in ``target``."""
    torch.manual_seed(seed)
    classes = sorted(set(labels))
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(classes),
        id2label=dict(enumerate(classes)), label2id={c: i for i, c in enumerate(classes)},
    )
    targets = torch.tensor([classes.index(label) for label in labels])
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for epoch in range(epochs):
        batches = torch.randperm(len(texts), generator=order).split(batch_size)
        for rows in tqdm(batches, desc=f"fine-tune epoch {epoch + 1}/{epochs}", unit="batch"):
            batch = tokenizer([texts[i] for i in rows], truncation=True, max_length=MAX_LENGTH, padding=True,
                              return_tensors="pt")
            loss = model(**batch, labels=targets[rows]).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    model.eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
