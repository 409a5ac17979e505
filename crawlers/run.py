"""Run one spider in this process with Scrapy's CrawlerProcess, and record the run.

Twisted's reactor starts once per process, so a process runs one crawl; the scheduler
starts each scheduled crawl as a child process (see ``crisiswatch.schedule``).
"""

from __future__ import annotations

from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from core.store import Store


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
    store = Store(database_url)
    run_id = store.start_crawl_run(job_name, spider)
    process = CrawlerProcess(scrapy_settings(database_url, overrides))
    failures: list[str] = []
    try:
        crawler = process.create_crawler(spider)
    except KeyError:
        store.finish_crawl_run(run_id, status="failed", pages=0, stored=0, duplicates=0, rejected=0,
                               message=f"unknown spider {spider!r}")
        raise
    deferred = process.crawl(crawler, job_name=job_name, **spider_args)
    deferred.addErrback(lambda failure: failures.append(failure.getErrorMessage()))
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    errors = stats.get("log_count/ERROR", 0)
    health = stats.get("crisiswatch/health")  # blocked / cookie expired, set by BlockPageMiddleware
    summary = CrawlSummary(
        job=job_name,
        spider=spider,
        status="failed" if failures else (health or ("errors" if errors else "ok")),
        pages=stats.get("response_received_count", 0),
        stored=stats.get("crisiswatch/stored", 0),
        duplicates=stats.get("crisiswatch/duplicates", 0),
        rejected=stats.get("crisiswatch/rejected", 0),
        message="; ".join(failures) or stats.get("crisiswatch/block_reason")
        or (f"{errors} errors logged" if errors else stats.get("finish_reason", "")),
    )
    store.finish_crawl_run(run_id, status=summary.status, pages=summary.pages, stored=summary.stored,
                           duplicates=summary.duplicates, rejected=summary.rejected, message=summary.message)
    store.close()
    return summary
