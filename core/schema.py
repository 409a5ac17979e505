"""The post: the one record every stage hands on, and the rules that make it safe to store.

Posts are untrusted. ``make_post`` is the single gate between the outside world (files,
crawled pages) and the store: it normalises text, bounds sizes and rejects what cannot be
stored, raising ``InvalidPost`` with a reason a person can act on.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

PLATFORMS = ("weibo", "wechat", "tieba", "news", "gov")
KINDS = ("post", "repost", "comment", "article", "release")

MAX_TEXT_CHARS = 20_000
MAX_TITLE_CHARS = 500
MAX_ID_CHARS = 200  # a longer id (a news page's URL) is stored bounded: see bounded_id
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 16_384  # beyond what web servers accept (8 KB is common)
# A post time later than now by more than this is a wrong clock or a wrong field: rejected
# (it would sit at the top of every newest-first list and empty the emerging stories).
FUTURE_SLACK = timedelta(days=1)

# C0/C1 control characters except tab and newline; they break terminals, CSV and XML.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u3000\xa0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# Half of an emoji: JSON's "\ud83d" escapes decode to a lone surrogate, which no UTF-8
# store, hash or segmenter can take.
_SURROGATES = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    return _SURROGATES.sub("\ufffd", text)


class InvalidPost(ValueError):
    """A record that cannot become a post; the message says why."""


@dataclass
class Post:
    platform: str
    platform_id: str
    text: str
    kind: str = "post"
    title: str | None = None
    url: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author_verified: bool | None = None
    created_at: datetime | None = None
    parent_id: str | None = None
    reposts_count: int = 0
    comments_count: int = 0
    likes_count: int = 0
    source: str = ""
    truncated: bool = False
    content_hash: str = field(default="", compare=False)
    capture_sha: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.platform, self.platform_id)


def clean_text(value: str | None, limit: int) -> tuple[str, bool]:
    """NFC-normalised text without control characters or runs of blanks, cut to ``limit``;
    a lone surrogate becomes U+FFFD (the replacement character)."""
    if value is None:
        return "", False
    text = unicodedata.normalize("NFC", without_surrogates(str(value)))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    if len(text) > limit:
        return text[:limit], True
    return text, False


def content_hash(text: str) -> str:
    """Hash of the text with case and blanks folded: equal for verbatim copies of one post."""
    folded = re.sub(r"\s+", "", text).casefold()
    return hashlib.blake2b(folded.encode("utf-8"), digest_size=12).hexdigest()


def _count(value, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # a list, "many", NaN, 1e400
        raise InvalidPost(f"{name} is not a whole number: {str(value)[:40]!r}") from None
    if number < 0:
        raise InvalidPost(f"{name} is negative: {number}")
    return min(number, 2**62)


def _flag(value) -> bool | None:
    """A yes/no field as JSON, CSV or an API gives it (true, "false", 0, "1"); else unknown."""
    if isinstance(value, bool) or value is None:
        return value
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(str(value).strip().lower())


def _short(value, name: str, limit: int) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidPost(f"{name} must be text or a whole number, not {type(value).__name__}")
    text, cut = clean_text(value, limit)
    if cut:
        raise InvalidPost(f"{name} is longer than {limit} characters")
    return text or None


def bounded_id(value: str) -> str:
    """The id as stored: itself when it fits MAX_ID_CHARS, else its beginning (readable)
    and a hash of the whole, so that the same id always gives the same stored id and
    two ids that differ only past the cut stay two posts."""
    if len(value) <= MAX_ID_CHARS:
        return value
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=16).hexdigest()
    return f"{value[: MAX_ID_CHARS - len(digest) - 1]}#{digest}"


def _post_id(value, name: str) -> str | None:
    """A post's id of any length up to a URL's (news pages are keyed by theirs), bounded."""
    text = _short(value, name, MAX_URL_CHARS)
    return bounded_id(text) if text else None


def to_utc(value: datetime | int | float | str | None) -> datetime | None:
    """A timestamp as an aware UTC datetime: ISO 8601 or the Weibo API's text (naive values
    are China time), or epoch seconds (or milliseconds)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if abs(value) > 1e11:  # milliseconds
            value = value / 1000
        try:
            result = datetime.fromtimestamp(value, timezone.utc)
        except (ValueError, OverflowError, OSError):  # NaN, 1e300, before year 1
            raise InvalidPost(f"time is out of range: {value!r}") from None
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:  # the Weibo API's form: "Sat Jun 29 12:40:09 +0800 2013"
                result = datetime.strptime(value.strip(), "%a %b %d %H:%M:%S %z %Y")
            except ValueError:
                raise InvalidPost(f"time is not a date: {value[:40]!r}") from None
    elif isinstance(value, datetime):
        result = value
    else:
        raise InvalidPost(f"time is not a date: a {type(value).__name__}")
    if result.tzinfo is None:
        result = result.replace(tzinfo=CHINA_TZ)
    result = result.astimezone(timezone.utc)
    if not (2000 <= result.year) or result > datetime.now(timezone.utc) + FUTURE_SLACK:
        raise InvalidPost(f"time is out of range: {result.astimezone(CHINA_TZ).isoformat()} (China time)")
    return result


def make_post(
    *,
    platform: str,
    platform_id,
    text,
    kind: str = "post",
    title=None,
    url=None,
    author_id=None,
    author_name=None,
    author_verified=None,
    created_at=None,
    parent_id=None,
    reposts_count=0,
    comments_count=0,
    likes_count=0,
    source: str = "",
    capture_sha: str | None = None,
) -> Post:
    """Validate and normalise one record into a ``Post``, or raise ``InvalidPost``."""
    if platform not in PLATFORMS:
        raise InvalidPost(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
    if kind not in KINDS:
        raise InvalidPost(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    pid = _post_id(platform_id, "id")
    if not pid:
        raise InvalidPost("missing id")
    for value, name in ((text, "text"), (title, "title")):
        if value is not None and not isinstance(value, str):
            raise InvalidPost(f"{name} must be text, not {type(value).__name__}")
    body, truncated = clean_text(text, MAX_TEXT_CHARS)
    head, _ = clean_text(title, MAX_TITLE_CHARS)
    if not body and not head:
        raise InvalidPost("empty text")
    return Post(
        platform=platform,
        platform_id=pid,
        text=body or head,
        kind=kind,
        title=head or None,
        url=_short(url, "url", MAX_URL_CHARS),
        author_id=_short(author_id, "author id", MAX_ID_CHARS),
        author_name=_short(author_name, "author name", MAX_NAME_CHARS),
        author_verified=_flag(author_verified),
        created_at=to_utc(created_at),
        parent_id=_post_id(parent_id, "parent id"),
        reposts_count=_count(reposts_count, "reposts count"),
        comments_count=_count(comments_count, "comments count"),
        likes_count=_count(likes_count, "likes count"),
        source=(source or "")[:MAX_NAME_CHARS],
        truncated=truncated,
        content_hash=content_hash(body or head),
        capture_sha=capture_sha,
    )


@dataclass
class Capture:
    """A raw HTTP response kept as evidence: the body gzip-compressed, named by its hash."""

    url: str
    status: int
    headers: dict[str, str] = field(repr=False)
    body_gzip: bytes = field(repr=False)  # kept out of logs (Scrapy logs dropped items)
    fetched_at: datetime = field(repr=False)
    sha256: str = ""

    @classmethod
    def of(cls, url: str, status: int, headers: dict[str, str], body: bytes, fetched_at: datetime) -> "Capture":
        digest = hashlib.sha256(url.encode("utf-8") + b"\n" + body).hexdigest()
        return cls(url, status, headers, gzip.compress(body, compresslevel=6), fetched_at, digest)

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.body_gzip)


@dataclass
class Tags:
    """What the NLP stage says about one post."""

    post_id: int
    rumor_prob: float
    sentiment: str
    sentiment_score: float
    topics: list[str]
    model_version: str
    emotion: str | None = None
    emotion_score: float | None = None
    emotion_scores: dict[str, float] | None = None  # every emotion's probability
    polarity: str | None = None  # negative / neutral / positive (nlp.polarity)
    polarity_score: float | None = None
    topic_scores: dict[str, float] = field(default_factory=dict)
    places: list[str] = field(default_factory=list)  # administrative codes, each level: province, city, district
    organisations: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)  # place names without an administrative code
