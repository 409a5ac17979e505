"""What every source's spider shares.

* Arguments as ``scrapy crawl -a`` gives them: comma-separated ``start_urls``,
  ``keywords`` and ``regions`` (a search runs for each keyword, and for each keyword with
  each region), and ``job_name``.
* Base URLs from settings (``WEIBO_API_URL`` ...), so that a spider crawls the real site
  in production and a loopback replay in tests.
* Checkpoints: how far the job got, per source and key, read when the crawl opens and
  advanced by yielding a ``CheckpointItem`` after the posts it covers, so that the store
  saves it only once those posts are stored.
* Every post keeps the raw response it was read from (``capture``).
"""

from __future__ import annotations

from datetime import datetime, timezone

import scrapy

from core.schema import Capture
from core.store import Store
from crawlers.items import CheckpointItem, PostItem


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
        self.saved_checkpoints: dict[tuple[str, str], str] = {}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        for attribute, setting in cls.base_url_settings.items():
            setattr(spider, attribute, crawler.settings.get(setting).rstrip("/"))
        database_url = crawler.settings.get("CRISISWATCH_DATABASE_URL")
        if database_url:
            store = Store(database_url)
            spider.saved_checkpoints = store.checkpoints(spider.job_name)
            store.close()
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
