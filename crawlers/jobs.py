"""Crawl job definitions, read from a TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED_JOBS = Path(__file__).with_name("jobs.toml")
DEMO_SITE_PLACEHOLDER = "{demo_site}"


class JobError(ValueError):
    """A job file or job that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Job:
    name: str
    spider: str
    start_urls: tuple[str, ...]
    schedule: str = "0 * * * *"
    platform: str = "news"
    keywords: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)

    @property
    def uses_demo_site(self) -> bool:
        return any(DEMO_SITE_PLACEHOLDER in url for url in self.start_urls)

    def spider_args(self, demo_site: str | None = None) -> dict:
        urls = [u.replace(DEMO_SITE_PLACEHOLDER, demo_site or "") for u in self.start_urls]
        return {"start_urls": ",".join(urls), "platform": self.platform, "keywords": ",".join(self.keywords)}


def load_jobs(path: Path | None = None) -> dict[str, Job]:
    path = Path(path) if path and Path(path).exists() else SHIPPED_JOBS
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise JobError(f"{path}: not valid TOML: {err}") from None
    jobs = {}
    for number, entry in enumerate(raw.get("job", []), start=1):
        missing = [key for key in ("name", "spider", "start_urls") if not entry.get(key)]
        if missing:
            raise JobError(f"{path}: job {number} has no {', '.join(missing)}")
        job = Job(
            name=entry["name"],
            spider=entry["spider"],
            start_urls=tuple(entry["start_urls"]),
            schedule=entry.get("schedule", "0 * * * *"),
            platform=entry.get("platform", "news"),
            keywords=tuple(entry.get("keywords", [])),
            settings=dict(entry.get("settings", {})),
        )
        if len(job.schedule.split()) != 5:
            raise JobError(f"{path}: job {job.name!r}: schedule {job.schedule!r} is not a 5-field cron expression")
        jobs[job.name] = job
    return jobs
