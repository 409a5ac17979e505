"""The pipeline's stages: import, crawl, tag, index, and the scheduler that runs them and publishes."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, stop_on_interrupt, with_home


def _known_encoding(value: str | None) -> str | None:
    if value is None:
        return None
    import codecs

    try:
        return codecs.lookup(value).name
    except LookupError:
        raise click.BadParameter(f"{value!r} is not an encoding Python knows; use e.g. utf-8, gb18030 or big5") from None


@click.command("import", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--encoding", callback=lambda _ctx, _param, value: _known_encoding(value),
              help="Force the files' encoding instead of detecting it (e.g. gb18030).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@with_home
def import_command(settings: Settings, paths, encoding, as_json):
    """Import posts from files or folders of files.

    \b
    JSON Lines in the CED shape (id, uid, text, time, user, reposts ...; reposts are
    stored as posts linked to their parent) and CSV with a header holding `text`
    (e.g. `userid,text`), gzip-compressed or not, in UTF-8 or GB18030 (detected).
    Posts already stored are counted as duplicates and their counts updated; bad
    lines are rejected with their reason, and the import goes on.
    """
    from tqdm import tqdm

    from crisiswatch.importer import ImportFailed, expand_paths, import_files
    from crisiswatch.stages import open_store

    store = open_store(settings)
    try:
        files = expand_paths(paths, on_skip=lambda entry, why: click.echo(f"skipped {entry}: {why}", err=True))
        with tqdm(total=sum(f.stat().st_size for f in files), unit="B", unit_scale=True, desc="import",
                  disable=as_json) as bar:
            report = import_files(store, files, progress=bar, encoding=encoding)
    except ImportFailed as err:
        fail(str(err))
    for rejection in report.rejected:
        click.echo(f"rejected {rejection}", err=True)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(
            f"{report.files} files: imported {report.imported} posts, skipped {report.duplicates} duplicates, "
            f"rejected {report.rejected_rows}"
        )


@click.command(context_settings=CONTEXT)
@click.argument("job", required=False)
@click.option("--spider", help="Run this spider by hand instead of a job (see -a, -s).")
@click.option("-a", "spider_args", multiple=True, metavar="NAME=VALUE", help="Spider argument, as for `scrapy crawl`.")
@click.option("-s", "scrapy_settings", multiple=True, metavar="NAME=VALUE", help="Scrapy setting, as for `scrapy crawl`.")
@click.option("--list", "list_jobs", is_flag=True, help="List the configured jobs.")
@click.option("--store-only", is_flag=True, help="Only store what the crawl finds (tag and index later).")
@with_home
@click.pass_context
def crawl(ctx, settings: Settings, job, spider, spider_args, scrapy_settings, list_jobs, store_only):
    """Run one crawl job now (or one spider by hand): store what it finds, then tag and
    index it, so that it can be searched at once.

    \b
    Jobs are defined in <home>/jobs.toml (the shipped demo jobs when it is absent).
    Examples:
      crisiswatch crawl demo-news
      crisiswatch crawl --spider news -a start_urls=https://example.org/feed.xml -s DEPTH_LIMIT=1

    \b
    Exit status: 0 when the crawl ran (a site's block pages are reported as the job's
    health, and the scheduler backs the job off); 1 when it failed or logged errors
    (after tagging and indexing what it stored); 2 for a usage error.
    """
    # The crawl itself needs neither the NLP nor the index code: they are imported only to
    # tag and index afterwards, so that a store-only crawl stays small.
    from core.store import Store
    from crawlers.jobs import DEMO_SITE_PLACEHOLDER, JobError, load_jobs
    from crawlers.loopback import DEMO_SITE_ENV
    from crawlers.run import crawl_job
    from crawlers.run import crawl as crawl_spider
    from crawlers.spiders.base import SpiderArgumentError
    from desk import migrations

    try:
        jobs = load_jobs(settings.jobs_file)
    except JobError as err:
        fail(str(err))
    if list_jobs:
        demo_site = os.environ.get(DEMO_SITE_ENV)  # set while the demo serves it
        for item in jobs.values():
            urls = (u.replace(DEMO_SITE_PLACEHOLDER, demo_site) if demo_site else u for u in item.start_urls)
            click.echo(f"{item.name:24} {item.spider:8} {item.schedule:16} {', '.join(urls)}")
        if not demo_site and any(item.uses_demo_site for item in jobs.values()):
            click.echo(f"{DEMO_SITE_PLACEHOLDER} is the bundled illustrative site, served on a free loopback port "
                       "while such a job runs")
        return
    overrides = dict(_pairs(scrapy_settings, "-s"))
    if not spider and not job:
        fail("name a job (see `crisiswatch crawl --list`) or a spider with --spider")
    if not spider and job not in jobs:
        fail(f"no job named {job!r}; configured jobs: {', '.join(jobs) or 'none'} (see --list)")
    args = dict(_pairs(spider_args, "-a"))
    settings.ensure_home()
    store = Store(settings.database_url)  # the crawl's own store leaves a home of an earlier release as it is
    migrations.upgrade(store.engine, say=lambda line: click.echo(line, err=True))
    store.close()
    try:
        if spider:
            summary = crawl_spider(settings, spider, args, f"manual-{spider}", overrides)
        else:
            summary = crawl_job(settings, jobs[job], args, overrides)
    except KeyError:
        fail(f"no spider named {(spider or jobs[job].spider)!r}")
    except SpiderArgumentError as err:
        raise click.UsageError(str(err), ctx) from None
    click.echo(summary.describe())
    if summary.status == "failed":
        sys.exit(1)
    if not store_only:
        _tag(settings, batch_size=1000, limit=None)
        _index(settings, full_rebuild=False)
    if summary.status == "errors":  # what it stored is tagged and indexed, but the crawl did not do its job
        sys.exit(1)


def _pairs(values, flag):
    for value in values:
        if "=" not in value:
            fail(f"{flag} takes NAME=VALUE, got {value!r}")
        yield tuple(value.split("=", 1))


def _finite(seconds: float | None) -> float | None:
    """Refuse nan and inf, which a range lets through (nan would set no limit)."""
    if seconds is not None and not math.isfinite(seconds):
        raise click.BadParameter(f"{seconds} is not a number of seconds")
    return seconds


@click.command(context_settings=CONTEXT)
@click.option("--batch-size", default=1000, show_default=True, help="Posts per batch (one transaction each).")
@click.option("--limit", type=int, help="Tag (or re-tag) at most this many posts.")
@click.option("--precise", is_flag=True,
              help="Re-tag sentiment, emotion and polarity with the precise tier, the posts that matter first.")
@click.option("--incident", type=int, help="With --precise: only the posts of this incident (its query).")
@click.option("--seconds", type=click.FloatRange(min=0), callback=lambda _ctx, _param, value: _finite(value),
              help="With --precise: start no batch after this many seconds (the scheduler's budget; 0: none).")
@with_home
def tag(settings: Settings, batch_size, limit, precise, incident, seconds):
    """Tag every untagged post: rumor probability, sentiment, emotion, topics, places and organisations.

    Posts tagged without the current NER model (before it was trained, or with an older
    one) get their places and organisations found again; their other tags stay.

    With --precise, the precise tier (the encoder fine-tuned per task) re-tags the
    sentiment, emotion and polarity of tagged posts not yet re-tagged by its current
    models: those of the open incidents, alert evidence and likely rumors first, then the
    rest newest first. Its tags are then the ones searched, shown and counted."""
    if (incident is not None or seconds is not None) and not precise:
        raise click.UsageError("--incident and --seconds go with --precise")
    if precise:
        _tag_precise(settings, batch_size, limit, incident, seconds)
    else:
        _tag(settings, batch_size, limit)


def _tag_precise(settings: Settings, batch_size: int, limit: int | None, incident: int | None,
                 seconds: float | None) -> None:
    from crisiswatch import stages
    from nlp.encoder import EncoderUnavailable

    store = stages.open_store(settings)
    try:
        done = stages.tag_precise(settings, store, incident=incident, batch_size=batch_size, limit=limit,
                                  seconds=seconds)
    except EncoderUnavailable as err:
        fail(f"precise tier off: {err}")
    except stages.NoIncident as err:
        fail(str(err))
    click.echo(f"re-tagged {done} posts precisely")


def _tag(settings: Settings, batch_size: int, limit: int | None) -> None:
    """The tag stage, with what the command says about it (also run by `crawl`)."""
    from crisiswatch import stages
    from nlp import topic_model
    from nlp.models import ModelOutdated

    store = stages.open_store(settings)
    missing = stages.untrained_tasks(settings)
    if missing:
        click.secho(
            f"note: no current model for {', '.join(missing)}; a task never trained uses the lexicon fallback "
            "(run `crisiswatch train all` with the data present)",
            fg="yellow", err=True,
        )
    if topic_model.is_outdated(settings.models_dir):
        click.secho("note: the topics learnt from corrections are from an older crisiswatch and are not used; "
                    "run `crisiswatch train topics`", fg="yellow", err=True)
    try:
        done, retagged = stages.tag(settings, store, batch_size=batch_size, limit=limit)
    except ModelOutdated as err:
        fail(str(err))
    click.echo(f"tagged {done} posts")
    if retagged:
        click.echo(f"found again the places and organisations of {retagged} posts tagged without the current NER model")


@click.command(context_settings=CONTEXT)
@click.option("--rebuild", is_flag=True, help="Empty the index and rebuild it from the store of record.")
@with_home
def index(settings: Settings, rebuild):
    """Bring the search index up to date with the store (new, changed and re-tagged posts)."""
    _index(settings, rebuild)


def _index(settings: Settings, full_rebuild: bool) -> None:
    """The index stage, with what the command says about it (also run by `crawl`)."""
    from crisiswatch import stages
    from indexes.errors import IndexUnavailable

    store = stages.open_store(settings)
    try:
        done = stages.index(settings, store, full_rebuild=full_rebuild)
    except IndexUnavailable as err:
        fail(str(err))
    click.echo(f"indexed {done} posts")


@click.command(context_settings=CONTEXT)
@with_home
def schedule(settings: Settings):
    """Run every crawl job on its schedule (crawl, then tag and index) until Ctrl-C."""
    import time

    from crisiswatch.schedule import label, start_scheduler
    from crisiswatch.stages import jobs_of, open_store, stop_crawls

    open_store(settings).close()
    stop_on_interrupt()
    scheduler = start_scheduler(settings, jobs_of(settings))
    for job in scheduler.get_jobs():
        click.echo(f"{label(job)}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S} (China time)")
    click.echo("scheduler running (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        scheduler.pause()  # no new runs; those under way end, their crawls stopped
        stop_crawls()
        scheduler.shutdown(wait=True)


@click.command(context_settings=CONTEXT)
@click.option("--dry-run", is_flag=True, help="List what is due without sending it.")
@with_home
def publish(settings: Settings, dry_run):
    """Deliver the releases due now to their organisations' channels (<home>/channels.toml).

    \b
    The scheduler (`crisiswatch schedule`, the demo) does this every 15 seconds; a failed
    attempt is retried later with growing delays. Exits 1 when an attempt failed.
    """
    from crisiswatch.publishing import sessions
    from desk import outbox
    from desk.tables import Organisation

    try:
        channels = outbox.load_channels(settings.channels_file)
    except outbox.ChannelConfigError as err:
        fail(str(err))
    settings.ensure_home()
    factory = sessions(settings.database_url, settings.home)
    if dry_run:
        with factory() as session:
            pending = outbox.due(session)
            for delivery in pending:
                org = session.get(Organisation, delivery.org_id).name
                click.echo(f"due       release {delivery.release_id} -> {org} / {delivery.channel} "
                           f"(attempt {delivery.attempts + 1})")
        click.echo(f"{len(pending)} deliveries due")
        return
    report = outbox.deliver_due(factory, channels)
    for result in report.results:
        line = f"{result.status:9} release {result.release_id} -> {result.org} / {result.channel}"
        if result.error:
            line += f": {result.error} (attempt {result.attempts}"
            line += f", next at {result.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)" if result.next_attempt_at else ")"
        click.echo(line)
    for release_id in report.published:
        click.echo(f"published release {release_id}")
    for release_id, why in report.why_held().items():
        click.echo(f"held      release {release_id}: {why}")
    click.echo(f"{len(report.results)} deliveries attempted, {report.failed_attempts} failed")
    if report.failed_attempts:
        sys.exit(1)
