"""Import posts from files: CED-style JSON Lines and ``userid,text`` CSV, gzip or not.

Each line is read as UTF-8, else as GB18030 (which covers GB2312 and GBK), so a file
that mixes the two loses no line; valid UTF-8 is so constrained that no GB18030 line of
the Weibo corpus reads as UTF-8. A line that cannot be read or validated, or a file that
cannot be read at all (not text, an unknown encoding), is rejected with its reason and
the import goes on; a gzip file cut short is read up to where it ends. A CSV quote that
is never closed costs its line only, not the rest of the file. Posts are written in batches through the store's
upsert, so an import killed at any moment and run again ends with every post stored exactly once.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import re
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

from core.near_duplicates import EMPTY_REPOST
from core.schema import CHINA_TZ, InvalidPost, Post, make_post
from core.store import Store, UpsertResult

# Posts per transaction. Each new post adds entries at random places in a few large
# indexes (its id, text hash and cluster, and twelve band keys): a large batch writes
# each touched index page once for many posts (the whole corpus: 38 -> 5 GB written).
BATCH = 20_000
SAMPLE_BYTES = 1 << 16
MAX_LINE_BYTES = 1 << 20
MAX_RECORD_LINES = 50  # a quoted CSV field may hold line breaks: a record spans at most this many lines
_OPEN_QUOTE = ("a quote (\") opens a field here and is not closed: the line was left out, "
               "the lines after it were read")
DETECTED = ("utf-8", "gb18030")  # the encodings tried for each line, in order, unless one is given
_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32)])  # control bytes, rare in text of any encoding read here
_MONTH_DAY_TIME = re.compile(r"(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})")
_DAY_IN_NAME = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


class ImportFailed(Exception):
    """A file cannot be imported at all (missing, not text, undetectable encoding)."""


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


def expand_paths(paths: Iterable[str | Path], on_skip: Callable[[Path, str], None] | None = None) -> list[Path]:
    """Files named, and the importable files inside folders named, in name order.

    ``on_skip`` hears of every other entry of those folders and why it is not read. A
    folder inside is not read: beside a corpus it may hold training data, not posts."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.is_file() and _format_of(entry):
                    found.append(entry)
                elif on_skip is not None:
                    on_skip(entry, "a folder inside the folder is not read: name it to import it" if entry.is_dir()
                            else "not a .jsonl, .json, .ndjson, .csv or .tsv file (gzip or not): name it to import it")
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


def _sample(path: Path) -> tuple[bytes, bool]:
    """The file's first SAMPLE_BYTES (fewer when it is shorter or its gzip stream ends
    early), and whether the file goes on after them."""
    chunks, size = [], 0
    with _open_binary(path) as handle:
        try:
            while size < SAMPLE_BYTES and (chunk := handle.read(min(4096, SAMPLE_BYTES - size))):
                chunks.append(chunk)
                size += len(chunk)
        except (EOFError, OSError, zlib.error):  # a cut or corrupt gzip: judge what was read
            return b"".join(chunks), False
    return b"".join(chunks), size >= SAMPLE_BYTES


def detect_encoding(path: Path) -> str:
    """The encoding that reads the most lines at the start of the file: UTF-8 or GB18030.

    Counting lines, not bytes, lets a few broken lines be rejected later instead of
    making the whole file unreadable. The sample's last line may be cut mid-character
    where the sample ends: it is read as far as it goes.
    """
    sample, more = _sample(path)
    if len(sample) - len(sample.translate(None, _CONTROL_BYTES)) > len(sample) // 20:
        raise ImportFailed(f"{path}: this is not a text file (it is full of control bytes; UTF-16 text must be "
                           "converted to UTF-8 first, e.g. with iconv)")
    lines = sample.splitlines()
    failures = {}
    for encoding in ("utf-8", "gb18030"):
        failures[encoding] = 0
        for number, line in enumerate(lines, start=1):
            try:
                codecs.getincrementaldecoder(encoding)().decode(line, final=not (more and number == len(lines)))
            except UnicodeDecodeError:
                failures[encoding] += 1
    best = min(failures, key=failures.get)  # ties go to UTF-8
    if lines and failures[best] > len(lines) // 2:
        raise ImportFailed(f"{path}: the text is neither UTF-8 nor GB18030; convert it first, e.g. with iconv")
    return "utf-8-sig" if best == "utf-8" else best


def _decoded_lines(handle, encodings: tuple[str, ...], on_reject: Callable[[int, str], None]) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line that decodes in one of ``encodings`` (the first
    that does); the others are rejected. A gzip file that ends early or is corrupt is read
    up to there, and that is rejected too."""
    shown = " or ".join({"utf-8": "UTF-8", "gb18030": "GB18030"}.get(e, e) for e in encodings)
    number = 0
    try:
        for number, raw in enumerate(handle, start=1):
            if len(raw) > MAX_LINE_BYTES:
                on_reject(number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            text = _decode(raw, encodings)
            if isinstance(text, UnicodeDecodeError):
                on_reject(number, f"not valid {shown} at byte {text.start} (for a file in another encoding, "
                                  "give it with --encoding)")
                continue
            if number == 1:
                text = text.lstrip("\ufeff")
            yield number, text
    except (EOFError, OSError, zlib.error) as err:
        on_reject(number + 1, f"the file ends early or is corrupt after line {number} ({err}); "
                              "the lines before it were read")


def _decode(raw: bytes, encodings: tuple[str, ...]) -> str | UnicodeDecodeError:
    """The line in the first encoding that reads it, or the first encoding's error."""
    first = None
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as err:
            first = first or err
    return first


def _derived_id(*parts: str) -> str:
    """A stable id for a record that has none: the same author and text give the same id."""
    return "h" + hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=10).hexdigest()


def _day_of(path: Path) -> datetime | None:
    match = _DAY_IN_NAME.search(path.name)
    if not match:
        return None
    year, month, day = map(int, match.groups())
    return datetime(year, month, day, tzinfo=CHINA_TZ)


def _ced_posts(record: dict, source: str) -> tuple[list[Post], list[str]]:
    """A CED post and its reposts (as posts of kind 'repost', linked to their parent), and
    why each repost that could not be kept was left out."""
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
    reposts = record.get("reposts") or []
    if not isinstance(reposts, list):
        return posts, [f"reposts must be a list, not {type(reposts).__name__}: the post is kept without them"]
    left_out = []
    chains = _reposted(reposts)
    for number, reply in enumerate(reposts, start=1):
        if not isinstance(reply, dict):
            continue
        text = reply["text"] if _has_words(reply) else ""
        if not text and not (isinstance(reply.get("mid"), str) and reply["mid"] in chains):
            continue  # CED keeps empty reposts ("转发微博" stripped); they carry nothing to tag
        try:
            posts.append(
                make_post(
                    platform=posts[0].platform,
                    platform_id=reply.get("mid"),
                    kind="repost",
                    text=text or EMPTY_REPOST,
                    author_id=reply.get("uid"),
                    created_at=_repost_time(reply.get("date"), posts[0].created_at),
                    parent_id=reply.get("parent") or posts[0].platform_id,
                    source=source,
                )
            )
        except InvalidPost as err:  # a broken repost must not cost the post itself
            left_out.append(f"repost {number}: {err}")
    return posts, left_out


def _reposted(reposts: list) -> set:
    """The reposts that a repost with words reposted, up its chain of parents: kept even
    where empty (as Weibo shows them), so that the chain from the post stays whole."""
    by_mid = {reply["mid"]: reply for reply in reposts if isinstance(reply, dict) and isinstance(reply.get("mid"), str)}
    chains = set()
    for reply in by_mid.values():
        if not _has_words(reply):
            continue
        parent = reply.get("parent")
        while isinstance(parent, str) and parent in by_mid and parent not in chains:
            chains.add(parent)
            parent = by_mid[parent].get("parent")
    return chains


def _has_words(reply: dict) -> bool:
    return bool(str(reply.get("text") or "").strip())


def _repost_time(value, parent: datetime | None):
    """A repost's time; CED gives some without a year ("02月24日 07:07", China time): the
    first such moment after the parent post."""
    match = isinstance(value, str) and _MONTH_DAY_TIME.fullmatch(value.strip())
    if not match or parent is None:
        return value
    month, day, hour, minute = map(int, match.groups())
    start = parent.astimezone(CHINA_TZ)
    try:
        moment = datetime(start.year, month, day, hour, minute, tzinfo=CHINA_TZ)
        return moment if moment >= start else moment.replace(year=start.year + 1)
    except ValueError:  # 02月30日
        return value


def _jsonl_records(lines, source, on_reject) -> Iterator[tuple[int, list[Post]]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            # json's "Invalid control character at" names the place itself
            on_reject(number, f"not JSON ({err.msg.removesuffix(' at')} at column {err.colno})")
            continue
        except (ValueError, RecursionError) as err:  # a number of thousands of digits, nesting too deep
            on_reject(number, f"not JSON that can be read ({str(err)[:80]})")
            continue
        try:
            posts, left_out = _ced_posts(record, source)
        except InvalidPost as err:
            on_reject(number, str(err))
            continue
        for reason in left_out:
            on_reject(number, reason)
        yield number, posts


def _csv_rows(lines, on_reject) -> Iterator[tuple[int, list[str]]]:
    """(last line number, fields) of each CSV record.

    A quoted field may hold line breaks, so a record may go on over the next lines, up
    to MAX_RECORD_LINES. A quote opened and never properly closed (at the end of the
    file, past that bound, or closed only to be followed by more text on a later line)
    costs the line it opened on: that line is rejected, and reading goes on with the
    line after it. Within one line, text after a closing quote is kept, as csv's lenient
    mode reads it (``"停电"是谣言``).
    """
    source = iter(lines)
    ahead: deque[tuple[int, str]] = deque()  # lines read past a rejected line, to be read again

    def more() -> bool:
        """Whether a line is ahead, reading one from the file when none is."""
        if not ahead and (line := next(source, None)) is not None:
            ahead.append(line)
        return bool(ahead)

    while more():
        record = [ahead.popleft()]
        row, problem = _csv_row([text for _, text in record])
        while problem == _OPEN_QUOTE and len(record) < MAX_RECORD_LINES and more():
            record.append(ahead.popleft())
            row, problem = _csv_row([text for _, text in record])
        if len(record) > 1 and problem:  # the quote was not a field's over several lines
            problem = _OPEN_QUOTE
        elif problem and problem != _OPEN_QUOTE:  # one line: read leniently, as before
            row, problem = _csv_row([record[0][1]], strict=False)
        if not problem:
            yield record[-1][0], row
            continue
        on_reject(record[0][0], problem)
        ahead.extendleft(reversed(record[1:]))


def _csv_row(texts: list[str], strict: bool = True) -> tuple[list[str] | None, str | None]:
    """The fields of one record of these lines, or what is wrong with it."""
    try:
        return next(csv.reader(texts, strict=strict), []), None
    except csv.Error as err:
        return None, _OPEN_QUOTE if "unexpected end of data" in str(err) else f"unreadable CSV: {err}"


def _csv_records(lines, source, day, on_reject) -> Iterator[tuple[int, list[Post]]]:
    rows = _csv_rows(lines, on_reject)
    first = next(rows, None)
    if first is None:
        return
    header = [h.strip().lower() for h in first[1]]
    if "text" not in header:
        count = sum(1 for _number, row in rows if row)
        on_reject(1, f"no 'text' column (the header is {','.join(header)!r}): all {count} rows rejected", count)
        return
    col = {name: i for i, name in enumerate(header)}

    def get(row, name):
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else None

    for number, row in rows:
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

        def on_reject(line: int, reason: str, rows: int = 1, _name=str(path)):
            report.rejected.append(Rejection(_name, line, reason, rows))

        encodings = (encoding,) if encoding else DETECTED
        try:
            if not encoding:
                detect_encoding(path)  # not text, or mostly in neither encoding
        except ImportFailed as err:  # this file is skipped whole; the others are still read
            on_reject(1, f"{str(err).removeprefix(f'{path}: ')}: the whole file was skipped", _line_count(path))
            continue

        with path.open("rb") as raw_handle:
            compressed = raw_handle.read(2) == b"\x1f\x8b"
            raw_handle.seek(0)
            handle = gzip.open(raw_handle) if compressed else raw_handle
            if _ends_lines_with_cr(path):
                handle = _lines_ended_with_lf(handle)
            lines = _decoded_lines(handle, encodings, on_reject)
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


def _ends_lines_with_cr(path: Path) -> bool:
    """Whether the file ends its lines with CR alone, as Excel for Mac's CSV does: read by
    LF, it would be one line, rejected whole."""
    sample, _more = _sample(path)
    return b"\r" in sample and b"\n" not in sample


def _lines_ended_with_lf(handle) -> Iterator[bytes]:
    """The lines of a binary ``handle`` whose lines end with CR, ended with LF instead.
    Latin-1 maps each byte to one character and back, and a CR byte is a CR in UTF-8 and
    GB18030 alike (never part of a character), so the bytes of each line are unchanged."""
    return (line.encode("latin-1") for line in io.TextIOWrapper(handle, encoding="latin-1", newline=None))


def _line_count(path: Path) -> int:
    count = 0
    with _open_binary(path) as handle:
        try:
            for count, _line in enumerate(handle, start=1):
                pass
        except (EOFError, OSError, zlib.error):
            pass
    return count


def _flush(store: Store, batch: list[Post], report: ImportReport) -> None:
    if batch:
        result: UpsertResult = store.upsert_posts(batch)
        report.imported += result.inserted
        report.duplicates += result.duplicates
        batch.clear()
