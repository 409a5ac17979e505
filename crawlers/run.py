"""Run one crawl in this process with Scrapy's CrawlerProcess, and record the run.

Twisted's reactor starts once per process, so a process runs one crawl. `crisiswatch crawl`
runs it in the command's own process; each scheduled crawl is a child process running this module,
``python -m crawlers.run JOB --home HOME`` (see ``crisiswatch.stages``), which only stores
what it finds: the scheduler tags and indexes it afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings as ScrapySettings
from twisted.python.failure import Failure

from core.settings import Settings
from core.store import Store
from crawlers.jobs import Job, JobError, load_jobs
from crawlers.loopback import DEMO_SITE_ENV, demo_site as serve_demo_site
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

    def describe(self) -> str:
        """The crawl's line, as `crisiswatch crawl` prints it and a scheduled crawl logs it."""
        return (f"crawl {self.job}: {self.status}; {self.pages} pages, stored {self.stored} new posts, "
                f"{self.duplicates} already stored, {self.rejected} rejected"
                + (f" ({self.message})" if self.status != "ok" else ""))


def crawl_job(settings: Settings, job: Job, spider_args: dict | None = None,
              overrides: dict | None = None) -> CrawlSummary:
    """Run a job of the home; the bundled demo site is served on loopback while a job that
    names it runs (unless the demo serves it already). ``spider_args`` and ``overrides``
    (Scrapy settings) take precedence over the job's."""
    demo_site = os.environ.get(DEMO_SITE_ENV)
    server = None
    if job.uses_demo_site and not demo_site:
        server, demo_site = serve_demo_site()
    try:
        return crawl(settings, job.spider, {**job.spider_args(demo_site), **(spider_args or {})}, job.name,
                     {**job.scrapy_settings(demo_site), **(overrides or {})})
    finally:
        if server is not None:
            server.shutdown()


def crawl(settings: Settings, spider: str, spider_args: dict, job_name: str,
          overrides: dict | None = None) -> CrawlSummary:
    """Run a crawl into the home's store, with the home's cookie and proxy pool unless
    ``overrides`` names another, and record the run; a run is never left marked running
    by an error here.

    Raises KeyError for an unknown spider and ``SpiderArgumentError`` for arguments the
    spider refuses (both recorded as failed runs)."""
    settings.ensure_home()
    database_url = settings.database_url
    overrides = {"CRISISWATCH_POOL_FILE": str(settings.pool_file), **(overrides or {})}
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


def scrapy_settings(database_url: str, overrides: dict | None = None) -> ScrapySettings:
    settings = ScrapySettings()
    settings.setmodule("crawlers.settings", priority="project")
    settings.set("CRISISWATCH_DATABASE_URL", database_url, priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


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


def main(argv: list[str] | None = None) -> int:
    """Run a job of a home and print its line; the exit status is `crisiswatch crawl JOB --store-only`'s."""
    parser = argparse.ArgumentParser(prog="python -m crawlers.run",
                                     description="Run one crawl job of a home now and record it (store only).")
    parser.add_argument("job", help="a job of <home>/jobs.toml (the shipped demo jobs when it is absent)")
    parser.add_argument("--home", help="the home folder [env CRISISWATCH_HOME]")
    args = parser.parse_args(argv)
    settings = Settings.load(args.home)
    try:
        jobs = load_jobs(settings.jobs_file)
    except JobError as err:
        parser.exit(1, f"error: {err}\n")
    if args.job not in jobs:
        parser.exit(1, f"error: no job named {args.job!r}; configured jobs: {', '.join(jobs) or 'none'}\n")
    try:
        summary = crawl_job(settings, jobs[args.job])
    except KeyError:
        parser.exit(1, f"error: no spider named {jobs[args.job].spider!r}\n")
    except SpiderArgumentError as err:
        parser.error(str(err))
    print(summary.describe())
    return 1 if summary.status in ("failed", "errors") else 0


if __name__ == "__main__":
    sys.exit(main())
