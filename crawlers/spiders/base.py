"""What every source's spider shares.

* Arguments as ``scrapy crawl -a`` gives them: comma-separated ``start_urls``,
  ``keywords`` and ``regions`` (a search runs for each keyword, and for each keyword with
  each region), and ``job_name``.
* Base URLs from settings (``WEIBO_API_URL`` ...), so that a spider crawls the real site
  in production and a loopback replay in tests.
* Checkpoints: how far the job got, per source and key, loaded when the crawl opens and
  advanced by yielding a ``CheckpointItem`` after the posts it covers, so that it is
  saved only once those posts are stored (both by ``crawlers.extensions.Checkpoints``).
* Every post keeps the raw response it was read from (``capture``).
* ``Awaited``: what a checkpoint key waits for before it may be saved.
"""

from __future__ import annotations

from datetime import datetime, timezone

import scrapy

from core.schema import Capture
from crawlers.items import CheckpointItem, PostItem


class Awaited:
    """The requests a crawl made for its checkpoint keys (search terms, users), and which
    keys await each answer.

    A URL is asked once per crawl however many keys' pages show it: Scrapy's dupe filter
    would drop a second request unanswered, and the key behind it would wait forever. A
    key may save its checkpoint only once nothing it awaits is outstanding, and not at
    all in a crawl where something it awaited failed: a crawl killed or blocked half-way
    then reads those pages again next time."""

    def __init__(self):
        self.waiting: dict[str, set[str]] = {}  # URL -> keys awaiting its answer
        self.asked: set[str] = set()  # every URL asked in this crawl
        self.failed: set[str] = set()  # keys that awaited a failed request

    def ask(self, url: str, keys: set[str]) -> bool:
        """Whether to make the request (the first time the URL is asked); ``keys`` await it."""
        if url in self.waiting:
            self.waiting[url] |= keys
            return False
        if url in self.asked:
            return False
        self.asked.add(url)
        self.waiting[url] = set(keys)
        return True

    def keys_of(self, url: str) -> set[str]:
        """The keys awaiting this URL (which also await what its answer leads to)."""
        return set(self.waiting.get(url, ()))

    def answered(self, url: str) -> set[str]:
        """The keys that awaited this URL, now answered."""
        return self.waiting.pop(url, set())

    def fail(self, url: str) -> None:
        self.failed |= self.waiting.pop(url, set())

    def holds(self, key: str) -> bool:
        """Whether ``key`` may not save its checkpoint (yet)."""
        return key in self.failed or any(key in keys for keys in self.waiting.values())


class SpiderArgumentError(ValueError):
    """A spider cannot run with the arguments it was given; the message says what it needs."""


def split_arg(value) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


class SourceSpider(scrapy.Spider):
    platform = "news"
    # spider attribute -> Scrapy setting that gives that base URL
    base_url_settings: dict[str, str] = {}

    def __init__(self, start_urls="", keywords="", regions="", job_name: str = "", **kwargs):
        super().__init__(**kwargs)
        self.start_urls = split_arg(start_urls)
        self.keywords = split_arg(keywords)
        self.regions = split_arg(regions)
        self.job_name = job_name or self.name
        self.saved_checkpoints: dict[tuple[str, str], str] = {}  # set by crawlers.extensions.Checkpoints

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        for attribute, setting in cls.base_url_settings.items():
            setattr(spider, attribute, crawler.settings.get(setting).rstrip("/"))
        return spider

    @property
    def searches(self) -> list[str]:
        """The search terms: each keyword alone, then with each region."""
        return self.keywords + [f"{keyword} {region}" for keyword in self.keywords for region in self.regions]

    def checkpoint(self, source: str, key: str) -> str | None:
        return self.saved_checkpoints.get((source, key))

    def advance(self, source: str, key: str, value: str) -> CheckpointItem:
        self.saved_checkpoints[(source, key)] = value
        return CheckpointItem(source=source, key=key, value=value)

    def post(self, response, **fields) -> PostItem:
        """A post read from ``response``, which is kept as its capture."""
        fields.setdefault("platform", self.platform)
        return PostItem(capture=capture_of(response), **fields)


def capture_of(response) -> Capture:
    headers = {key.decode("latin-1"): b", ".join(values).decode("latin-1") for key, values in response.headers.items()
               if key.lower() not in (b"set-cookie",)}  # cookies are secrets, not evidence
    return Capture.of(response.url, response.status, headers, response.body, datetime.now(timezone.utc))
