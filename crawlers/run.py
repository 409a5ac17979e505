"""Run one spider in this process with Scrapy's CrawlerProcess, and record the run.

Twisted's reactor starts once per process, so a process runs one crawl; the scheduler
starts each scheduled crawl as a child process (see ``crisiswatch.schedule``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from core.store import Store
from crawlers.spiders.base import SpiderArgumentError


@dataclass
class CrawlSummary:
    job: str
    spider: str
    status: str
    pages: int
    stored: int
    duplicates: int
    rejected: int
    message: str


def scrapy_settings(database_url: str, overrides: dict | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("CRISISWATCH_DATABASE_URL", database_url, priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def run_crawl(database_url: str, spider: str, spider_args: dict, job_name: str, overrides: dict | None = None) -> CrawlSummary:
    """Run the crawl and record it; a run is never left marked running by an error here.

    Raises KeyError for an unknown spider and ``SpiderArgumentError`` for arguments the
    spider refuses (both recorded as failed runs)."""
    store = Store(database_url)
    run_id = store.start_crawl_run(job_name, spider)
    try:
        summary, refused = _crawl(database_url, spider, spider_args, job_name, overrides)
    except BaseException as err:
        store.finish_crawl_run(run_id, status="failed", pages=0, stored=0, duplicates=0, rejected=0,
                               message=f"unknown spider {spider!r}" if isinstance(err, KeyError) else repr(err))
        store.close()
        raise
    store.finish_crawl_run(run_id, status=summary.status, pages=summary.pages, stored=summary.stored,
                           duplicates=summary.duplicates, rejected=summary.rejected, message=summary.message)
    store.close()
    if refused is not None:
        raise refused
    return summary


def _crawl(database_url, spider, spider_args, job_name, overrides) -> tuple[CrawlSummary, SpiderArgumentError | None]:
    """The crawl's summary, and the spider's refusal of its arguments if it refused them."""
    process = CrawlerProcess(scrapy_settings(database_url, overrides))
    crawler = process.create_crawler(spider)
    failures: list[Failure] = []
    process.crawl(crawler, job_name=job_name, **spider_args).addErrback(failures.append)
    process.start()
    try:
        stats = crawler.stats.get_stats()
    except RuntimeError:  # Scrapy sets the stats when the crawl starts: it never did
        stats = {}
    # requests given up after their retries, and exceptions in the spider, are errors whatever
    # is logged (LOG_LEVEL=CRITICAL counts no logged errors)
    errors = max(stats.get("log_count/ERROR", 0), stats.get("retry/max_reached", 0) + stats.get("spider_exceptions/count", 0))
    health = stats.get("crisiswatch/health")  # blocked / cookie expired, set by BlockPageMiddleware
    problems = [f.getErrorMessage() for f in failures]
    if stats.get("crisiswatch/disk_full"):  # see StorePipeline
        problems.append("the disk of the store is full: the posts not stored are fetched again by the next crawl")
    summary = CrawlSummary(
        job=job_name,
        spider=spider,
        status="failed" if problems else (health or ("errors" if errors else "ok")),
        pages=stats.get("response_received_count", 0),
        stored=stats.get("crisiswatch/stored", 0),
        duplicates=stats.get("crisiswatch/duplicates", 0),
        rejected=stats.get("crisiswatch/rejected", 0),
        message="; ".join(problems) or stats.get("crisiswatch/block_reason")
        or (f"{errors} errors logged" if errors else stats.get("finish_reason", "")),
    )
    refused = next((f.value for f in failures if f.check(SpiderArgumentError)), None)
    return summary, refused
