"""Readers for the labelled training files in the shared data folder."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Each task: the file under the data folder that trains it.
TRAINING_FILES = {
    "rumor": Path("rumor/ced_train.jsonl.gz"),
    "sentiment": Path("sentiment/osm2022_train.csv"),
    "emotion": Path("sentiment/covid_emotion_train.csv"),
    "ner": Path("ner/msra_char_bio.zip"),
}

# What may be done with a model trained on each file (from the data's licences).
LICENCES = {
    "rumor": "CED (Song et al. 2018): no licence stated; keep weights inside the organisation.",
    "sentiment": "osm2022: research use only; never distribute weights trained on it.",
    "emotion": "COVID-19 Weibo emotions: no licence stated; keep weights inside the organisation.",
    "ner": "MSRA NER (SIGHAN 2006 bakeoff): research use; keep weights inside the organisation.",
}

REPLIES_PER_POST = 150  # the earliest reposts and comments a rumor is judged with (50: macro-F1 0.92, 150: 0.94)


@dataclass
class Labelled:
    """Texts with one label each; ``replies``, where the data has them, each text's earliest replies."""

    texts: list[str]
    labels: list[str]
    replies: list[list[str]] = field(default_factory=list)


def _earliest_replies(record: dict) -> list[str]:
    reposts = sorted(record.get("reposts") or [], key=lambda r: str(r.get("date") or ""))
    return [r.get("text") or "" for r in reposts[:REPLIES_PER_POST]]


CED_ZONE = timezone(timedelta(hours=8))  # CED's repost dates are Beijing time, written without a zone


def _posted_at(record: dict) -> float | None:
    """A CED post's time in epoch seconds: CED gives most as a number, some as Weibo writes them."""
    posted = record.get("time")
    if isinstance(posted, (int, float)):
        return float(posted)
    try:
        return datetime.strptime(str(posted), "%a %b %d %H:%M:%S %z %Y").timestamp()
    except ValueError:
        return None


def _replied_at(reply: dict) -> float | None:
    try:
        return datetime.strptime(str(reply.get("date")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CED_ZONE).timestamp()
    except ValueError:  # a few dates lack their year ("01月25日 12:44")
        return None


def time_cut(record: dict, hours: float) -> dict:
    """A CED record as it stood ``hours`` after it was posted: only the replies made by
    then, and its counts as they were. The file's counts are final counts: the reposts
    count becomes the replies kept, and the comment and like counts, whose times the
    file does not give, are left out. A reply of unknown time is left out too."""
    posted = _posted_at(record)
    kept = [] if posted is None else [
        reply for reply in record.get("reposts") or []
        if (at := _replied_at(reply)) is not None and at <= posted + hours * 3600
    ]
    view = {key: value for key, value in record.items() if key not in ("comments_count", "likes")}
    return {**view, "reposts": kept, "reposts_count": len(kept)}


def read_ced_records(path: Path) -> list[dict]:
    """The records of a CED JSON Lines file (gzipped or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def ced_labelled(records: list[dict], hours: float | None = None) -> Labelled:
    """Post texts, labels ('rumor' / 'non-rumor') and earliest replies of CED records;
    with ``hours``, of each record as it stood that long after it was posted."""
    data = Labelled([], [])
    for record in records:
        if hours is not None:
            record = time_cut(record, hours)
        data.texts.append(record["text"] or "")
        data.labels.append(record["label"])
        data.replies.append(_earliest_replies(record))
    return data


def read_ced(path: Path, hours: float | None = None) -> Labelled:
    """Post texts, labels and earliest replies of a CED JSON Lines file (see ``ced_labelled``)."""
    return ced_labelled(read_ced_records(path), hours)


def read_labelled_csv(path: Path) -> Labelled:
    """Texts and labels of a ``text,label`` CSV file."""
    data = Labelled([], [])
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("text") and row.get("label"):
                data.texts.append(row["text"])
                data.labels.append(row["label"])
    return data


def check_labels(task: str, path: Path, labels, known) -> None:
    """Refuse a file whose labels are not the task's: measured against a model that
    cannot give them, they would only read as errors, and a misspelt or foreign label
    set would pass for a weak model."""
    unknown = sorted(set(labels) - set(known))
    if unknown:
        shown = ", ".join(unknown[:20]) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        raise ValueError(f"{path} has labels that are not the {task} task's: {shown}; "
                         f"the {task} labels are: {', '.join(known)}")


def read_task(task: str, path: Path) -> Labelled:
    return read_ced(path) if task == "rumor" else read_labelled_csv(path)


def read_char_bio(path: Path) -> list[tuple[str, list[str]]]:
    """Sentences of a character-per-line BIO file (``字<TAB>B-LOC``, a blank line between
    sentences), plain or as the only file in a zip: each as (text, tags)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            raw = archive.read(archive.namelist()[0])
    else:
        raw = path.read_bytes()
    sentences, chars, tags = [], [], []
    for line in io.StringIO(raw.decode("utf-8-sig")):
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            chars.append(parts[0])
            tags.append(parts[1])
        elif chars:
            sentences.append(("".join(chars), tags))
            chars, tags = [], []
    if chars:
        sentences.append(("".join(chars), tags))
    return sentences
