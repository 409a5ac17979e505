"""The precise tier's encoder: a BERT-style character encoder read from a folder on disk.

The folder has the Hugging Face layout (``config.json``, ``model.safetensors``,
``vocab.txt``), as ``../shared/models/weibo-char-encoder`` does; its README fixes the
tokenisation, which :class:`CharTokenizer` follows exactly (the encoder was pretrained
with it, not with a ``BertTokenizer``). torch and transformers (the optional extra
``crisiswatch[transformers]``) are imported only to load the model, so that ``status``
can tell whether the tier is on without them.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FILES = ("config.json", "model.safetensors", "vocab.txt")
PAD, UNK, CLS, SEP = 0, 1, 2, 3
SPECIALS = {"[PAD]": PAD, "[UNK]": UNK, "[CLS]": CLS, "[SEP]": SEP}
MAX_CHARACTERS = 128  # of a text; with [CLS] and [SEP], the encoder's 130 positions


class EncoderUnavailable(Exception):
    """The folder holds no usable encoder; the message says what is missing."""


def missing_files(folder: Path) -> list[str]:
    return [name for name in FILES if not (folder / name).is_file()]


def problem(folder: Path | None) -> str | None:
    """Why ``folder`` cannot serve as the encoder, in one line; None where it can."""
    if folder is None:
        return "no encoder: set CRISISWATCH_ENCODER"
    missing = missing_files(folder)
    return f"the encoder folder {folder} lacks {', '.join(missing)}" if missing else None


def describe(folder: Path | None) -> dict:
    """The precise tier as ``status`` reports it: on with its encoder's folder and size, or off and why."""
    reason = problem(folder)
    return {"on": reason is None, "encoder": str(folder) if folder else None,
            "missing": missing_files(folder) if folder else [], "problem": reason,
            "size_mb": None if reason else round((folder / "model.safetensors").stat().st_size / 2**20, 1)}


class CharTokenizer:
    """One token per lower-cased character, ``[CLS] text [SEP]``, as the encoder's README says."""

    def __init__(self, vocab: list[str]):
        wrong = [f"{token} at line {id_}" for token, id_ in SPECIALS.items() if vocab[id_:id_ + 1] != [token]]
        if wrong:
            raise EncoderUnavailable(f"the vocabulary does not have {', '.join(wrong)}")
        self.ids = {token: id_ for id_, token in enumerate(vocab)}

    @classmethod
    def from_file(cls, path: Path) -> "CharTokenizer":
        """One entry per line; split on newlines only and never stripped: spaces are entries."""
        text = path.read_text(encoding="utf-8")
        return cls(text.removesuffix("\n").split("\n"))

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, text: str) -> list[int]:
        """``[CLS]``, the ids of the first 128 characters of the lower-cased text, ``[SEP]``."""
        return [CLS, *(self.ids.get(char, UNK) for char in text.lower()[:MAX_CHARACTERS]), SEP]

    def pad(self, sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Input ids and attention mask, padded to the longest of these sequences only."""
        width = max(map(len, sequences), default=0)
        ids = np.full((len(sequences), width), PAD, dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1
        return ids, mask

    def batches(self, texts: list[str], batch_size: int,
                sort_by_length: bool = False) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(positions in ``texts``, ids, mask) per batch; sorted by length, a batch pads little."""
        sequences = [self.encode(text) for text in texts]
        order = list(range(len(texts)))
        if sort_by_length:
            order.sort(key=lambda i: len(sequences[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            yield (rows, *self.pad([sequences[i] for i in rows]))


@dataclass
class Encoder:
    """The model (a transformers ``BertModel``, in float32 or int8) and its tokeniser."""

    folder: Path
    model: object
    tokenizer: CharTokenizer

    def cls_vectors(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """The last layer's ``[CLS]`` vector of each text, in the order of ``texts``."""
        import torch

        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for rows, ids, mask in self.tokenizer.batches(texts, batch_size, sort_by_length=True):
                hidden = self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
                out[rows] = hidden.last_hidden_state[:, 0].numpy()
        return out


def load_encoder(folder: Path | None, quantize: bool = False) -> Encoder:
    """The encoder in ``folder``, in float32 for the CPU (its weights may be stored in float16);
    ``quantize`` makes its Linear layers int8 (dynamic quantisation), for faster inference."""
    reason = problem(folder)
    if reason:
        raise EncoderUnavailable(reason)
    tokenizer = CharTokenizer.from_file(folder / "vocab.txt")
    size = json.loads((folder / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    if len(tokenizer) != size:
        raise EncoderUnavailable(f"the encoder folder {folder} has {len(tokenizer)} entries in vocab.txt "
                                 f"but config.json says {size}")
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(folder, add_pooling_layer=False, local_files_only=True)
    model = model.float().eval()  # whatever dtype the weights are stored in (the shared encoder's: float16)
    if quantize:
        with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao, still works
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".* are deprecated", category=UserWarning)
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return Encoder(folder, model, tokenizer)
