"""Scrapy extensions of the crawl stage."""

from __future__ import annotations

from scrapy import signals
from scrapy.exceptions import NotConfigured

from core.store import Store
from crawlers.items import CheckpointItem


class Checkpoints:
    """How far each job got, kept in the store, so that spiders never open it themselves.

    When the crawl opens, the job's checkpoints are loaded into ``spider.saved_checkpoints``
    (as ``scrapy.extensions.spiderstate`` loads ``spider.state``). A ``CheckpointItem`` is
    saved as soon as it has passed the item pipelines: the store pipeline lets one through
    only once every post yielded before it is stored, so a crawl killed in between fetches
    those posts again rather than skipping them."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.store: Store | None = None

    @classmethod
    def from_crawler(cls, crawler):
        database_url = crawler.settings.get("CRISISWATCH_DATABASE_URL")
        if not database_url:
            raise NotConfigured("CRISISWATCH_DATABASE_URL is not set")
        extension = cls(database_url)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        self.store = Store(self.database_url)
        spider.saved_checkpoints = self.store.checkpoints(spider.job_name)

    def item_scraped(self, item, spider) -> None:
        if isinstance(item, CheckpointItem):
            self.store.save_checkpoint(spider.job_name, item["source"], item["key"], item["value"])

    def spider_closed(self, spider) -> None:
        self.store.close()
