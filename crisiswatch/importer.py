"""Import posts from files: CED-style JSON Lines and ``userid,text`` CSV, gzip or not.

The encoding is detected per file (UTF-8, else GB18030, which covers GB2312 and GBK).
A line that cannot be read or validated is rejected with its reason and the import goes
on; posts are written in batches through the store's upsert, so an import killed at any
moment and run again ends with every post stored exactly once.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

from core.schema import CHINA_TZ, InvalidPost, Post, make_post
from core.store import Store, UpsertResult

BATCH = 2000
SAMPLE_BYTES = 1 << 16
MAX_LINE_BYTES = 1 << 20
_DAY_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class ImportFailed(Exception):
    """A whole file cannot be imported (missing, unknown format, undetectable encoding)."""


@dataclass
class Rejection:
    file: str
    line: int
    reason: str
    rows: int = 1  # a whole file can be rejected for one reason

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportReport:
    files: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return sum(r.rows for r in self.rejected)

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "rejected": self.rejected_rows,
            "rejections": [str(r) for r in self.rejected],
        }


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and the importable files inside folders named, in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and _format_of(p)))
        elif path.is_file():
            found.append(path)
        else:
            raise ImportFailed(f"{path}: no such file or folder")
    return found


def _format_of(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    return None


def _open_binary(path: Path):
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")


def detect_encoding(path: Path) -> str:
    """The encoding that reads the most lines at the start of the file: UTF-8 or GB18030.

    Counting lines, not bytes, lets a few broken lines be rejected later instead of
    making the whole file unreadable.
    """
    with _open_binary(path) as handle:
        sample = handle.read(SAMPLE_BYTES)
    lines = sample.splitlines()[:-1] or sample.splitlines()  # the last line may be cut
    failures = {}
    for encoding in ("utf-8", "gb18030"):
        failures[encoding] = 0
        for line in lines:
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                failures[encoding] += 1
    best = min(failures, key=failures.get)  # ties go to UTF-8
    if lines and failures[best] > len(lines) // 2:
        raise ImportFailed(f"{path}: the text is neither UTF-8 nor GB18030; convert it first, e.g. with iconv")
    return "utf-8-sig" if best == "utf-8" else best


def _decoded_lines(handle, encoding: str, on_reject: Callable[[int, str], None]) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line that decodes; the others are rejected."""
    for number, raw in enumerate(handle, start=1):
        if len(raw) > MAX_LINE_BYTES:
            on_reject(number, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            on_reject(number, f"not valid {encoding} at byte {err.start}")
            continue
        if number == 1:
            text = text.lstrip("\ufeff")
        yield number, text


def _derived_id(*parts: str) -> str:
    """A stable id for a record that has none: the same author and text give the same id."""
    return "h" + hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _day_of(path: Path) -> datetime | None:
    match = _DAY_IN_NAME.search(path.name)
    if not match:
        return None
    year, month, day = map(int, match.groups())
    return datetime(year, month, day, tzinfo=CHINA_TZ)


def _ced_posts(record: dict, source: str) -> list[Post]:
    """A CED post and its reposts (as posts of kind 'repost', linked to their parent)."""
    if not isinstance(record, dict):
        raise InvalidPost("a JSON line must hold an object")
    user = record.get("user") if isinstance(record.get("user"), dict) else {}
    text = record.get("text")
    post_id = record.get("id") or record.get("mid") or (text and _derived_id(str(record.get("uid", "")), str(text)))
    posts = [
        make_post(
            platform=record.get("platform") or "weibo",
            platform_id=post_id,
            text=text,
            title=record.get("title"),
            url=record.get("url"),
            author_id=record.get("uid") or record.get("author_id"),
            author_name=record.get("author_name") or user.get("name") or user.get("screen_name"),
            author_verified=user.get("verified"),
            created_at=record.get("time") or record.get("created_at"),
            reposts_count=record.get("reposts_count"),
            comments_count=record.get("comments_count"),
            likes_count=record.get("likes") or record.get("attitudes_count"),
            source=source,
        )
    ]
    for reply in record.get("reposts") or []:
        if not isinstance(reply, dict) or not str(reply.get("text") or "").strip():
            continue  # CED keeps empty reposts ("转发微博" stripped); they carry nothing to tag
        try:
            posts.append(
                make_post(
                    platform=posts[0].platform,
                    platform_id=reply.get("mid"),
                    kind="repost",
                    text=reply.get("text"),
                    author_id=reply.get("uid"),
                    created_at=reply.get("date"),
                    parent_id=reply.get("parent") or posts[0].platform_id,
                    source=source,
                )
            )
        except InvalidPost:
            continue  # a broken repost must not cost the post itself
    return posts


def _jsonl_records(lines, source, on_reject) -> Iterator[tuple[int, list[Post]]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            yield number, _ced_posts(json.loads(line), source)
        except json.JSONDecodeError as err:
            on_reject(number, f"not JSON ({err.msg} at column {err.colno})")
        except InvalidPost as err:
            on_reject(number, str(err))


def _csv_records(lines, source, day, on_reject) -> Iterator[tuple[int, list[Post]]]:
    numbered = iter(lines)
    current = {"line": 0}

    def texts():
        for number, text in numbered:
            current["line"] = number
            yield text

    reader = csv.reader(texts())
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as err:
        on_reject(current["line"], f"unreadable CSV header: {err}")
        return
    if "text" not in header:
        rows = sum(1 for row in reader if row)
        on_reject(1, f"no 'text' column (the header is {','.join(header)!r}): all {rows} rows rejected", rows)
        return
    col = {name: i for i, name in enumerate(header)}

    def get(row, name):
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else None

    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            on_reject(current["line"], f"unreadable CSV: {err}")
            continue
        number = current["line"]
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            on_reject(number, f"{len(row)} fields where the header has {len(header)}")
            continue
        author = get(row, "userid") or get(row, "uid") or get(row, "author_id") or ""
        text = get(row, "text")
        # Without an author, equal texts may still be different people's posts: the row is the post.
        derived = _derived_id(author, text or "") if author else _derived_id(source, str(number), text or "")
        try:
            yield number, [
                make_post(
                    platform=get(row, "platform") or "weibo",
                    platform_id=get(row, "id") or get(row, "mid") or derived,
                    text=text,
                    author_id=author or None,
                    created_at=get(row, "created_at") or get(row, "time") or day,
                    source=source,
                )
            ]
        except InvalidPost as err:
            on_reject(number, str(err))


def import_files(store: Store, paths: Iterable[str | Path], progress=None, encoding: str | None = None,
                 limit: int | None = None) -> ImportReport:
    """Import every file (or until ``limit`` posts are new); ``progress`` is a tqdm-like bar over input bytes."""
    report = ImportReport()
    for path in expand_paths(paths):
        if limit is not None and report.imported >= limit:
            break
        report.files += 1
        fmt = _format_of(path)
        if fmt is None:
            with _open_binary(path) as handle:
                fmt = "jsonl" if handle.read(1) in (b"{", b"[") else "csv"
        file_encoding = encoding or detect_encoding(path)

        def on_reject(line: int, reason: str, rows: int = 1, _name=str(path)):
            report.rejected.append(Rejection(_name, line, reason, rows))

        with path.open("rb") as raw_handle:
            compressed = raw_handle.read(2) == b"\x1f\x8b"
            raw_handle.seek(0)
            handle = gzip.open(raw_handle) if compressed else raw_handle
            lines = _decoded_lines(handle, file_encoding, on_reject)
            if fmt == "jsonl":
                records = _jsonl_records(lines, path.name, on_reject)
            else:
                records = _csv_records(lines, path.name, _day_of(path), on_reject)
            batch: list[Post] = []
            last_pos = 0
            for _number, posts in records:
                batch.extend(posts)
                if limit is not None and report.imported + len(batch) >= limit:
                    del batch[limit - report.imported :]
                    break
                if len(batch) >= BATCH:
                    _flush(store, batch, report)
                    if progress is not None:
                        pos = raw_handle.tell()
                        progress.update(pos - last_pos)
                        last_pos = pos
            _flush(store, batch, report)
            if progress is not None:
                progress.update(path.stat().st_size - last_pos)
    return report


def _flush(store: Store, batch: list[Post], report: ImportReport) -> None:
    if batch:
        result: UpsertResult = store.upsert_posts(batch)
        report.imported += result.inserted
        report.duplicates += result.duplicates
        batch.clear()
