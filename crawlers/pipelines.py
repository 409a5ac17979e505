"""Item pipelines: validate and normalise each item, keep what the job is about, store it.

A bad item is dropped with its reason (counted in the crawl's stats), never stopping
the crawl. Posts are written in small batches through the store's upsert, so a crawl
killed and run again stores each post once; a checkpoint passes on (to be saved by
``crawlers.extensions.Checkpoints``) only after the posts yielded before it are stored,
so a crawl killed between the two fetches those posts again rather than skipping them.
"""

from __future__ import annotations

from scrapy.exceptions import DropItem
from scrapy.utils.defer import deferred_from_coro

from core.disk import is_disk_full
from core.schema import InvalidPost, Post, make_post
from core.store import Store
from crawlers.items import CheckpointItem


class CrawlerPipeline:
    """A pipeline that reads the crawl's spider and stats through its crawler."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)


class ValidatePipeline(CrawlerPipeline):
    def process_item(self, item):
        spider = self.crawler.spider
        if isinstance(item, CheckpointItem):
            return item
        fields = {k: v for k, v in dict(item).items() if v is not None}
        capture = fields.pop("capture", None)
        try:
            item["post"] = make_post(source=getattr(spider, "job_name", spider.name),
                                     capture_sha=capture.sha256 if capture else None, **fields)
        except (InvalidPost, TypeError) as err:
            self.crawler.stats.inc_value("crisiswatch/rejected")
            raise DropItem(f"invalid post from {fields.get('url') or fields.get('platform_id')}: {err}") from None
        return item


class KeywordPipeline(CrawlerPipeline):
    """Keep only posts that mention one of the job's keywords (all posts when it has none),
    and the replies (comments, reposts) to posts kept in this crawl, whatever they say:
    the earliest replies are what the rumor tagger reads."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.kept: set[tuple[str, str]] = set()

    def process_item(self, item):
        if isinstance(item, CheckpointItem):
            return item
        keywords = self.crawler.spider.keywords
        post: Post = item["post"]
        mentions = any(k in post.text or k in (post.title or "") for k in keywords)
        if keywords and not mentions and (post.platform, post.parent_id) not in self.kept:
            self.crawler.stats.inc_value("crisiswatch/off_topic")
            raise DropItem(f"no job keyword in {post.url or post.platform_id}")
        self.kept.add(post.key)
        return item


class StorePipeline(CrawlerPipeline):
    """Store posts in batches; let each checkpoint pass once the posts before it are stored.

    A full disk stops the crawl (``crisiswatch/disk_full`` in its stats): posts not yet
    stored are given up with the checkpoints after them, so the next crawl fetches them again."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.database_url = crawler.settings.get("CRISISWATCH_DATABASE_URL")
        if not self.database_url:
            raise ValueError("CRISISWATCH_DATABASE_URL is not set; run crawls through `crisiswatch crawl`")
        self.batch_size = crawler.settings.getint("CRISISWATCH_STORE_BATCH")
        self.batch: list[Post] = []
        self.captures: dict = {}
        self.disk_full = False

    def open_spider(self):
        self.store = Store(self.database_url)

    def close_spider(self):
        self._flush()
        self.store.close()

    def process_item(self, item):
        if isinstance(item, CheckpointItem):  # saved by crawlers.extensions.Checkpoints once it passes
            if not self._flush():
                raise DropItem(f"checkpoint {item['source']} {item['key']} not saved: the posts before it are not stored")
            return item
        if self.disk_full:
            return item
        self.batch.append(item["post"])
        if item.get("capture") is not None:
            self.captures[item["capture"].sha256] = item["capture"]
        if len(self.batch) >= self.batch_size:
            self._flush()
        return item

    def _flush(self) -> bool:
        """Store the batch; whether it was stored (False once the disk is full)."""
        if self.disk_full:
            return False
        if self.batch:
            try:
                self.store.save_captures(list(self.captures.values()))
                self.captures = {}
                result = self.store.upsert_posts(self.batch)
            except Exception as err:
                if not is_disk_full(err):
                    raise
                self._stop_for_full_disk()
                return False
            self.batch = []
            self.crawler.stats.inc_value("crisiswatch/stored", result.inserted)
            self.crawler.stats.inc_value("crisiswatch/duplicates", result.duplicates)
        return True

    def _stop_for_full_disk(self) -> None:
        self.disk_full = True
        self.crawler.stats.set_value("crisiswatch/disk_full", True)
        self.crawler.spider.logger.error("the disk of the store is full: stopping the crawl")
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="disk_full"))
