"""Readers for the labelled training files in the shared data folder."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

# Each task: the file under the data folder that trains it.
TRAINING_FILES = {
    "rumor": Path("rumor/ced_train.jsonl.gz"),
    "sentiment": Path("sentiment/osm2022_train.csv"),
}

# What may be done with a model trained on each file (from the data's licences).
LICENCES = {
    "rumor": "CED (Song et al. 2018): no licence stated; keep weights inside the organisation.",
    "sentiment": "osm2022: research use only; never distribute weights trained on it.",
}


def read_ced(path: Path) -> tuple[list[str], list[str]]:
    """Post texts and labels ('rumor' / 'non-rumor') of a CED JSON Lines file."""
    opener = gzip.open if path.suffix == ".gz" else open
    texts, labels = [], []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                texts.append(record["text"] or "")
                labels.append(record["label"])
    return texts, labels


def read_labelled_csv(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels of a ``text,label`` CSV file."""
    texts, labels = [], []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("text") and row.get("label"):
                texts.append(row["text"])
                labels.append(row["label"])
    return texts, labels


def read_task(task: str, path: Path) -> tuple[list[str], list[str]]:
    return read_ced(path) if task == "rumor" else read_labelled_csv(path)
