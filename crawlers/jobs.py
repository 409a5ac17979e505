"""Crawl job definitions, read from a TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import CodedError

SHIPPED_JOBS = Path(__file__).with_name("jobs.toml")
DEMO_SITE_PLACEHOLDER = "{demo_site}"


class JobError(CodedError, ValueError):
    """A job file or job that cannot be used; the message says what to fix."""

    PREFIX = "jobs_"
    MESSAGES = {
        "toml": "{path}: not valid TOML: {error}",
        "missing": "{path}: job {number} has no {missing}",
        "schedule": "{path}: job {name!r}: schedule {schedule!r} is not a 5-field cron expression",
        "limits": "{path}: job {name!r}: limits are positive whole numbers of {limits}",
    }


# Job limits and the Scrapy settings that enforce them.
LIMITS = {"pages": "CLOSESPIDER_PAGECOUNT", "posts": "CLOSESPIDER_ITEMCOUNT", "minutes": "CLOSESPIDER_TIMEOUT"}


@dataclass(frozen=True)
class Job:
    name: str
    spider: str
    start_urls: tuple[str, ...] = ()
    schedule: str = "0 * * * *"
    platform: str = "news"
    keywords: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    limits: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def scrapy_settings(self, demo_site: str | None = None) -> dict:
        """The job's limits and settings, the demo site's address in place of its
        placeholder (a spider's base URL, as the live site's jobs give it)."""
        limits = {LIMITS[name]: value * 60 if name == "minutes" else value for name, value in self.limits.items()}
        return {**limits, **{name: value.replace(DEMO_SITE_PLACEHOLDER, demo_site or "") if isinstance(value, str)
                             else value for name, value in self.settings.items()}}

    @property
    def uses_demo_site(self) -> bool:
        return any(DEMO_SITE_PLACEHOLDER in url for url in self.start_urls)

    def spider_args(self, demo_site: str | None = None) -> dict:
        urls = [u.replace(DEMO_SITE_PLACEHOLDER, demo_site or "") for u in self.start_urls]
        args = {"start_urls": ",".join(urls), "keywords": ",".join(self.keywords), "regions": ",".join(self.regions)}
        if self.spider == "news":
            args["platform"] = self.platform
        return {name: value for name, value in args.items() if value}


def load_jobs(path: Path | None = None) -> dict[str, Job]:
    path = Path(path) if path and Path(path).exists() else SHIPPED_JOBS
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise JobError("toml", path=path, error=err) from None
    jobs = {}
    for number, entry in enumerate(raw.get("job", []), start=1):
        missing = [key for key in ("name", "spider") if not entry.get(key)]
        if not entry.get("start_urls") and not entry.get("keywords"):
            missing.append("start_urls or keywords")
        if missing:
            raise JobError("missing", path=path, number=number, missing=", ".join(missing))
        job = Job(
            name=entry["name"],
            spider=entry["spider"],
            start_urls=tuple(entry.get("start_urls", [])),
            schedule=entry.get("schedule", "0 * * * *"),
            platform=entry.get("platform", "news"),
            keywords=tuple(entry.get("keywords", [])),
            regions=tuple(entry.get("regions", [])),
            limits=dict(entry.get("limits", {})),
            settings=dict(entry.get("settings", {})),
        )
        if len(job.schedule.split()) != 5:
            raise JobError("schedule", path=path, name=job.name, schedule=job.schedule)
        unknown = set(job.limits) - set(LIMITS)
        if unknown or not all(isinstance(v, int) and v > 0 for v in job.limits.values()):
            raise JobError("limits", path=path, name=job.name, limits=", ".join(LIMITS))
        jobs[job.name] = job
    return jobs
