"""Benchmarks, run on demand (never in the tests)."""

from __future__ import annotations

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, emit_json, fail, with_home


@click.group(context_settings=CONTEXT)
def bench():
    """Benchmarks on the real corpus (run on demand; they print numbers)."""


@bench.command("search", context_settings=CONTEXT)
@click.option("--limit", type=int, help="Use only the first N posts of the corpus.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_home
def bench_search_command(settings: Settings, limit, as_json):
    """Index the Weibo corpus into a temporary home and measure the embedded backend.

    \b
    Prints posts indexed per second and peak memory while indexing, the median and
    95th percentile of 200+ full result pages (in-process and through the UI's HTTP
    endpoint), the most common word sorted by time, a deep page, recall against a
    substring scan, and the index size.
    """
    from crisiswatch.bench import bench_search

    _report_bench(lambda: bench_search(settings.data_dir, limit, say=lambda m: click.echo(m, err=True)), as_json)


def _report_bench(measure, as_json: bool) -> None:
    """Run a benchmark and print its figures, as one JSON object or one per line."""
    try:
        result = measure()
    except FileNotFoundError as err:
        fail(str(err))
    if as_json:
        emit_json(result)
    else:
        for key, value in result.items():
            click.echo(f"{key:24} {value}")


@bench.command("nlp", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(min=1),
              help="Tag this many posts of the real corpus [default: 20,000; --tier precise: 2,000].")
@click.option("--tier", type=click.Choice(["fast", "precise"]), default="fast", show_default=True,
              help="precise: re-tag them with the home's precise models, in a fresh process.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: posts_per_s, chars_per_s, peak_rss_mb "
                                                      "(and threads with --tier precise).")
@with_home
def bench_nlp_command(settings: Settings, limit, tier, as_json):
    """Tag real Weibo posts with the full default pipeline in one process and time it.

    Uses the home's trained models (the lexicon fallback where there are none). With
    --tier precise, re-tags them as `tag --precise` does (sentiment, emotion, polarity)
    in a child process, whose peak memory is the precise tier's own, and says how many
    threads torch used (targets: 60 posts/s on 2 cores, under 1.5 GB).
    """
    def say(message: str) -> None:
        click.echo(message, err=True)

    if tier == "precise":
        from crisiswatch.bench_precise import bench_precise

        try:
            _report_bench(lambda: bench_precise(settings, limit or 2_000, say=say), as_json)
        except ImportError as err:
            fail(f"the precise tier needs the optional extra: pip install 'crisiswatch[transformers]' ({err})")
        return
    from crisiswatch.bench import bench_nlp

    _report_bench(lambda: bench_nlp(settings, limit or 20_000, say=say), as_json)


@bench.command("import", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(min=1), help="Import only the first N posts of the corpus.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_home
def bench_import_command(settings: Settings, limit, as_json):
    """Time the Weibo corpus from files to searchable: import, tag, index.

    \b
    Imports the corpus into a temporary home (its own SQLite store and embedded index),
    then tags it with this home's models (the lexicon fallback where there are none) and
    indexes it. Prints posts, posts per second of each stage, each stage's seconds, the
    total and the peak memory (of the import, and of the whole run).
    """
    from crisiswatch.bench import bench_import

    _report_bench(lambda: bench_import(settings, limit, say=lambda m: click.echo(m, err=True)), as_json)


@bench.command("alerts", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(min=1), help="Import only the first N posts of the corpus first.")
@click.option("--hours", default=24, show_default=True, type=click.IntRange(min=7),
              help="Simulated hours of the timeline (a batch a minute), its five bursts spread over them "
                   "(at least 7: closer bursts would fall in one alert's cool-down).")
@click.option("--live/--no-live", default=True, show_default=True,
              help="Then run `crisiswatch schedule` on a feed on loopback with three sudden bursts (about 3 minutes).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_home
def bench_alerts_command(settings: Settings, limit, hours, live, as_json):
    """Feed a timeline of real posts with injected bursts through the alert rules.

    \b
    Imports, tags and indexes the corpus into a temporary home, then feeds a simulated
    timeline of real texts after it, a batch a minute as the scheduler does (import, tag,
    index, every rule evaluated at the batch's time, the notices sent to a webhook on
    loopback): a steady baseline and bursts of posts holding the scheme's word, sudden,
    ramp, two-step, an outage's (many at once, decaying) and a repost wave. Prints the
    delay from a burst's first post stored to its alert's notice received (median and
    maximum, and per shape), the bursts missed, false alerts per simulated day (of the
    rule with the most) and the 95th percentile of one rule's evaluation after a batch.
    With --live, then the same delay measured on the real scheduler (`crisiswatch
    schedule` crawling a feed on loopback every minute): live_delay_s, a burst each.
    """
    from crisiswatch.bench_alerts import bench_alerts

    _report_bench(lambda: bench_alerts(settings, limit, hours, live, say=lambda m: click.echo(m, err=True)),
                  as_json)


@bench.command("spread", context_settings=CONTEXT)
@click.option("--size", default=5000, show_default=True, help="Posts in the cluster (as many comments answer them).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_home
def bench_spread_command(settings: Settings, size, as_json):
    """Time the spread page of one near-duplicate cluster of SIZE posts in a temporary home.

    \b
    Prints the tree's size, spread_ms_p50 (desk.spread alone) and page_ms_p50 and
    page_ms_p95 (the page over HTTP, logged in; target: under 2 s for 5,000 posts).
    """
    from crisiswatch.bench_spread import bench_spread

    _report_bench(lambda: bench_spread(settings, size, say=lambda m: click.echo(m, err=True)), as_json)


@bench.command("reports", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_home
def bench_reports_command(settings: Settings, as_json):
    """Time the briefings on a temporary home of 100,000 real posts in one China-time day.

    \b
    Imports the corpus's first posts and a rumor copied and reposted 1,000 times (with
    1,000 comments), places them evenly in one day, tags and indexes them; an incident
    searches 口罩 over the last stretch of the day holding 10,000 posts with it. Prints,
    for the daily report (target: under 30 s) and the special report (under 15 s), the
    posts it covers, the median seconds of its figures and of each format it is rendered
    in, and the peak memory of the reports.
    """
    from crisiswatch.bench_reports import bench_reports

    _report_bench(lambda: bench_reports(settings, say=lambda m: click.echo(m, err=True)), as_json)


@bench.command("crawl", context_settings=CONTEXT)
@click.option("--pages", default=5000, show_default=True, type=click.IntRange(min=1),
              help="Article pages of real posts in the site (rounded up to whole list pages of 50).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: pages, pages_per_s, stored, peak_rss_mb.")
@with_home
def bench_crawl_command(settings: Settings, pages, as_json):
    """Crawl a loopback site of real Weibo posts with the news spider and time it.

    \b
    Writes list pages of 50 article pages each into a temporary folder, serves them on
    loopback and runs `crisiswatch crawl --spider news` over them in a child process,
    politeness limits lifted, storing into a temporary database. Prints pages crawled per
    second, posts stored and the crawl process's peak memory.
    """
    from crisiswatch.bench import bench_crawl

    _report_bench(lambda: bench_crawl(settings.data_dir, pages, say=lambda m: click.echo(m, err=True)), as_json)


@bench.command("load", context_settings=CONTEXT)
@click.option("--users", default=50, show_default=True, type=click.IntRange(min=1), help="Logged-in users at once.")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(min=1), help="How long they browse.")
@click.option("--think", default=1.0, show_default=True, type=click.FloatRange(min=0),
              help="A user's mean pause between clicks, in seconds (0: every user clicks again at once).")
@click.option("--limit", type=click.IntRange(min=1), help="Import only the first N posts of the sample.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: requests, errors, requests_per_s, p50_ms, p95_ms, p99_ms.")
@with_home
def bench_load_command(settings: Settings, users, seconds, think, limit, as_json):
    """Drive logged-in users over the review UI, served as `crisiswatch serve` serves it.

    \b
    Imports the demo's three days of the Weibo corpus into a temporary home, starts
    `crisiswatch serve` there on a loopback port, logs in one analyst per user through
    the login form, and lets each browse: a search page, one of its posts, the same
    search through /api/search, with a pause between clicks. Prints the requests sent,
    the errors (HTTP 4xx/5xx and failed connections), requests per second and the
    50th, 95th and 99th percentile latencies.
    """
    from crisiswatch.bench_load import bench_load

    _report_bench(lambda: bench_load(settings.data_dir, users, seconds, think=think, limit=limit,
                                     say=lambda m: click.echo(m, err=True)), as_json)
