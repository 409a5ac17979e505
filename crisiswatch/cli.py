"""``crisiswatch``: the command line of the monitoring pipeline.

Every command works on one *home* folder (``--home`` or ``CRISISWATCH_HOME``) that holds
the database, the index, the models and the logs.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime
from functools import wraps
from pathlib import Path

import click

from core.schema import CHINA_TZ
from core.settings import DEFAULT_HOME, Settings
from desk.vocabulary import ORG_KINDS, ORG_LEVELS, ROLES

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def with_home(command):
    """Add ``--home`` to a command and pass it the loaded ``Settings``."""

    @click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="CRISISWATCH_HOME",
        default=None,
        help=f"Folder holding the database, index, models and logs [env CRISISWATCH_HOME; default {DEFAULT_HOME}].",
    )
    @wraps(command)
    def wrapper(*args, home, **kwargs):
        settings = Settings.load(home)
        try:
            return command(settings, *args, **kwargs)
        except Exception as err:  # a full disk is one line that says what to do, not a traceback
            from core.disk import disk_full_message, is_disk_full

            if not is_disk_full(err):
                raise
            fail(disk_full_message(f"crisiswatch {click.get_current_context().command.name}", settings.home))

    return wrapper


def stop_on_interrupt() -> None:
    """Ctrl-C and SIGTERM stop a long-running command cleanly (as KeyboardInterrupt), even
    when it was started from a shell that ignores SIGINT, as shells do for background jobs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def emit_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="crisiswatch")
def main():
    """Crisis communication and media monitoring for power outages.

    \b
    Stages:  crawl -> tag -> index -> (search, serve)
    Start with `crisiswatch demo`, which runs them all on the embedded default.
    """


# -- stages ----------------------------------------------------------------------------


def _known_encoding(value: str | None) -> str | None:
    if value is None:
        return None
    import codecs

    try:
        return codecs.lookup(value).name
    except LookupError:
        raise click.BadParameter(f"{value!r} is not an encoding Python knows; use e.g. utf-8, gb18030 or big5") from None


@main.command("import", context_settings=CONTEXT)
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


@main.command(context_settings=CONTEXT)
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
    # The crawl itself needs neither the NLP nor the index code: import them only to tag
    # and index afterwards, so that a store-only crawl stays small.
    from core.store import Store
    from crawlers.jobs import DEMO_SITE_PLACEHOLDER, JobError, load_jobs
    from crawlers.loopback import DEMO_SITE_ENV, demo_site as serve_demo_site
    from crawlers.run import run_crawl
    from crawlers.spiders.base import SpiderArgumentError

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
    server = None
    if spider:
        name, args, job_name = spider, dict(_pairs(spider_args, "-a")), f"manual-{spider}"
    elif job:
        if job not in jobs:
            fail(f"no job named {job!r}; configured jobs: {', '.join(jobs) or 'none'} (see --list)")
        chosen = jobs[job]
        demo_site = os.environ.get(DEMO_SITE_ENV)
        if chosen.uses_demo_site and not demo_site:
            server, demo_site = serve_demo_site()
        name, job_name = chosen.spider, chosen.name
        args = {**chosen.spider_args(demo_site), **dict(_pairs(spider_args, "-a"))}
        overrides = {**chosen.scrapy_settings, **overrides}
    else:
        fail("name a job (see `crisiswatch crawl --list`) or a spider with --spider")
    settings.ensure_home()
    Store(settings.database_url).close()
    overrides.setdefault("CRISISWATCH_POOL_FILE", str(settings.pool_file))
    try:
        summary = run_crawl(settings.database_url, name, args, job_name, overrides)
    except KeyError:
        fail(f"no spider named {name!r}")
    except SpiderArgumentError as err:
        raise click.UsageError(str(err), ctx) from None
    finally:
        if server is not None:
            server.shutdown()
    click.echo(
        f"crawl {summary.job}: {summary.status}; {summary.pages} pages, stored {summary.stored} new posts, "
        f"{summary.duplicates} already stored, {summary.rejected} rejected"
        + (f" ({summary.message})" if summary.status != "ok" else "")
    )
    if summary.status == "failed":
        sys.exit(1)
    if not store_only:
        ctx.invoke(tag, home=settings.home, batch_size=1000, limit=None)
        ctx.invoke(index, home=settings.home, rebuild=False)
    if summary.status == "errors":  # what it stored is tagged and indexed, but the crawl did not do its job
        sys.exit(1)


def _pairs(values, flag):
    for value in values:
        if "=" not in value:
            fail(f"{flag} takes NAME=VALUE, got {value!r}")
        yield tuple(value.split("=", 1))


@main.command(context_settings=CONTEXT)
@click.option("--batch-size", default=1000, show_default=True, help="Posts per batch (one transaction each).")
@click.option("--limit", type=int, help="Tag (or re-tag) at most this many posts.")
@with_home
def tag(settings: Settings, batch_size, limit):
    """Tag every untagged post: rumor probability, sentiment, emotion, topics, places and organisations.

    Posts tagged without the current NER model (before it was trained, or with an older
    one) get their places and organisations found again; their other tags stay."""
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


@main.command(context_settings=CONTEXT)
@click.option("--rebuild", is_flag=True, help="Empty the index and rebuild it from the store of record.")
@with_home
def index(settings: Settings, rebuild):
    """Bring the search index up to date with the store (new, changed and re-tagged posts)."""
    from crisiswatch import stages
    from indexes.errors import IndexUnavailable

    store = stages.open_store(settings)
    try:
        done = stages.index(settings, store, full_rebuild=rebuild)
    except IndexUnavailable as err:
        fail(str(err))
    click.echo(f"indexed {done} posts")


@main.command(context_settings=CONTEXT)
@click.argument("task", type=click.Choice(["rumor", "sentiment", "emotion", "ner", "topics", "all"]))
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Train from this file instead of the task's file in the data folder.")
@click.option("--backend", type=click.Choice(["tfidf", "transformers"]), default="tfidf", show_default=True,
              help="tfidf: the default CPU models; transformers: fine-tune the encoder in --model-dir.")
@click.option("--model-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A Chinese encoder saved with save_pretrained (e.g. chinese-roberta-wwm-ext), for --backend transformers.")
@click.option("--epochs", default=2, show_default=True, help="Fine-tuning epochs (--backend transformers).")
@click.option("--quantize", is_flag=True, help="int8 dynamic quantization for CPU inference (--backend transformers).")
@with_home
def train(settings: Settings, task, data, backend, model_dir, epochs, quantize):
    """Train a tagging model from the shared data and print its held-out figures.

    \b
    rumor      CED Weibo posts with their earliest reposts (rumor / non-rumor)
    sentiment  osm2022 Weibo comments (positive / weak_negative / anger / anxiety)
    emotion    COVID-19 Weibo posts (seven emotions)
    ner        MSRA sentences, one character per line with BIO tags (places, organisations, persons)
    topics     the analysts' topic corrections alone (the keyword rules need no training)
    Analysts' corrections made in the UI are added to the training data.
    """
    from crisiswatch import stages
    from nlp.models import TASKS

    stages.open_store(settings).close()
    if task == "topics":
        try:
            card = stages.train_topics(settings, say=lambda m: click.echo(m))
        except ValueError as err:
            fail(str(err))
        click.echo(f"topics: {card['version']}  learnt: {', '.join(card['topics']) or 'none'}")
        return
    tasks = list(TASKS) if task == "all" else [task]
    if data and len(tasks) > 1:
        fail("--data names one file: train one task with it, e.g. `crisiswatch train rumor --data FILE`")

    def say(message: str) -> None:
        click.echo(message, err=True)

    try:
        if backend == "transformers":
            if not model_dir or len(tasks) > 1:
                fail("--backend transformers trains one task from an encoder on disk: "
                     "`crisiswatch train sentiment --backend transformers --model-dir DIR`")
            cards = [stages.train_transformer(settings, tasks[0], model_dir, data_file=data, epochs=epochs,
                                              quantize=quantize, say=say)]
        else:
            cards = stages.train(settings, tasks, data_file=data, say=say)
    except ImportError as err:
        fail(f"the transformers backend needs the optional extra: pip install 'crisiswatch[transformers]' ({err})")
    except (FileNotFoundError, ValueError) as err:
        fail(str(err))
    for card in cards:
        click.echo(f"{card['task']}: {card['version']}  (held out, {card['held_out']['n']} examples)")
        _print_metrics(card["held_out"])
        if "held_out_text_only" in card:
            click.echo("  without replies (a post no one has answered yet):")
            _print_metrics(card["held_out_text_only"])


def _print_metrics(result: dict) -> None:
    click.echo(f"    accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}   n {result['n']}")
    for label, row in result["per_class"].items():
        click.echo(f"    {label:14} P {row['precision']:.3f}  R {row['recall']:.3f}  F1 {row['f1']:.3f}  n {row['support']}")


@main.command(context_settings=CONTEXT)
@click.argument("task", type=click.Choice(["rumor", "sentiment", "emotion", "ner"]))
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A labelled file in the format of the task's training file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: accuracy, macro_f1, per_class, n.")
@with_home
def evaluate(settings: Settings, task, data, as_json):
    """Measure the model a task uses now on a labelled file (e.g. held-out data)."""
    from nlp.evaluate import evaluate_task
    from nlp.models import ModelOutdated

    try:
        result = evaluate_task(task, settings.models_dir, data)
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError, OSError) as err:
        fail(f"{data} is not in the format of the {task} training file ({err})")
    except (ModelOutdated, ValueError) as err:
        fail(str(err))
    if as_json:
        emit_json(result)
        return
    note = "  (lexicon FALLBACK: no trained model)" if result["fallback"] else ""
    click.echo(f"{task}: {result['model']} on {data}{note}")
    _print_metrics(result)


# -- reading ---------------------------------------------------------------------------


def _time_option(_ctx, param, value: str | None):
    """--since or --until as a time (--until a day's end), or a usage error that says what is wrong."""
    from indexes.query import QueryError, parse_time

    try:
        return parse_time(value, end_of_day=param.name == "until")
    except QueryError as err:
        raise click.BadParameter(str(err)) from None


@main.command(context_settings=CONTEXT)
@click.argument("query", required=False, default="")
@click.option("--platform", multiple=True, help="Only this platform (repeatable): weibo, wechat, tieba, news, gov.")
@click.option("--since", callback=_time_option, help="From this date or time (China time), e.g. 2020-02-01.")
@click.option("--until", callback=_time_option, help="Up to this date or time (China time), inclusive.")
@click.option("--polarity", multiple=True, type=click.Choice(["negative", "neutral", "positive"]),
              help="Only this polarity (repeatable).")
@click.option("--sentiment", multiple=True, help="Only this sentiment (repeatable): positive, weak_negative, anger, anxiety.")
@click.option("--emotion", multiple=True, help="Only this emotion (repeatable), e.g. fear, anger, sadness.")
@click.option("--topic", multiple=True, help="Only this topic (repeatable), e.g. outage_report, rationing.")
@click.option("--place", multiple=True, help="Only posts about this place (administrative code; repeatable).")
@click.option("--cluster", multiple=True, help="Only this near-duplicate cluster (repeatable).")
@click.option("--verified/--unverified", default=None, help="Only verified (or only unverified) authors.")
@click.option("--rumor", is_flag=True, help="Only posts that are likely rumors.")
@click.option("--rumor-min", type=float, help="Lowest rumor probability (0-1).")
@click.option("--rumor-max", type=float, help="Highest rumor probability (0-1).")
@click.option("--sort", type=click.Choice(["relevance", "newest", "engagement"]), default="relevance", show_default=True)
@click.option("--page", default=1, show_default=True, help="Page number (relevance sort).")
@click.option("--after", type=int, help="Cursor printed by the previous page (newest and engagement sorts).")
@click.option("--per-page", default=20, show_default=True)
@click.option("--interval", type=click.Choice(["day", "hour"]), default="day", show_default=True,
              help="Buckets of the time histogram (China time).")
@click.option("--json", "as_json", is_flag=True, help="Print the result page as one JSON object.")
@with_home
def search(settings: Settings, query, platform, since, until, polarity, sentiment, emotion, topic, place, cluster,
           verified, rumor, rumor_min, rumor_max, sort, page, after, per_page, interval, as_json):
    """Search the posts, as the UI's search page does.

    \b
    Words must all occur; "..." is an exact phrase; A OR B; NOT A or -A excludes.
    Examples:
      crisiswatch search '停电 东湖区 -谣言' --sort newest
      crisiswatch search '"全城停电" OR 拉闸限电' --since 2024-07-25 --json
    """
    from crisiswatch.stages import open_store
    from indexes.backends import open_index
    from indexes.errors import IndexUnavailable
    from indexes.query import QueryError, SearchQuery, check_labels
    from indexes.results import search as run_search
    from indexes.serialize import page_as_dict
    from nlp.models import filter_labels

    try:
        q = SearchQuery(
            text=query, platforms=tuple(platform), polarities=tuple(polarity), sentiments=tuple(sentiment),
            emotions=tuple(emotion), topics=tuple(topic), places=tuple(place), clusters=tuple(cluster), verified=verified,
            rumor=rumor, rumor_min=rumor_min, rumor_max=rumor_max, since=since, until=until,
            sort=sort, page=page, after=after, per_page=per_page, interval=interval,
        )
    except QueryError as err:
        fail(str(err))
    try:
        check_labels(q, filter_labels(settings.models_dir))
    except QueryError as err:
        raise click.UsageError(str(err)) from None
    try:
        result = run_search(open_store(settings), open_index(settings), q)
    except IndexUnavailable as err:
        fail(str(err))
    if as_json:
        emit_json(page_as_dict(result))
        return
    click.echo(f"{result.total} posts match" + (f" (page {page} of {result.pages})" if q.ranked and result.total else ""))
    for hit in result.hits:
        post, tags = hit.post, hit.post["tags"] or {}
        when = post["created_at"].astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M") if post["created_at"] else "-"
        label = f"rumor {tags['rumor_prob']:.0%} {tags['sentiment']}" if tags else "untagged"
        click.echo(f"\n#{post['id']} [{post['platform']}] {when}  {label}")
        click.echo("  " + _terminal_snippet(hit.snippet_html))
    for name, counts in result.facets.items():
        if counts:
            click.echo(f"\n{name}: " + ", ".join(f"{value} {count}" for value, count in counts))
    if result.next_after is not None and len(result.hits) == per_page:
        click.echo(f"\nnext page: --after {result.next_after}")


def _terminal_snippet(snippet_html: str) -> str:
    import html

    bold = click.style("\x00", bold=True).split("\x00")
    return html.unescape(snippet_html.replace("<mark>", bold[0]).replace("</mark>", bold[1]))


@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@with_home
def status(settings: Settings, as_json):
    """Posts stored, tagged and indexed per platform; crawl jobs and their health; models."""
    from core import segment
    from crisiswatch.stages import jobs_of, open_store
    from indexes.backends import open_index
    from nlp.models import model_cards

    store = open_store(settings)
    counts = store.counts()
    runs = {run["job"]: run for run in store.last_crawl_runs()}
    cards = model_cards(settings.models_dir)
    value = {
        "home": str(settings.home),
        "database": store.engine.url.render_as_string(hide_password=True),
        "index": {"backend": settings.index_backend,
                  "location": settings.elasticsearch_url if settings.index_backend == "elasticsearch"
                  else str(settings.index_dir),
                  "documents": open_index(settings).num_docs()},
        "posts": {c.platform: {"stored": c.stored, "tagged": c.tagged, "indexed": c.indexed} for c in counts},
        "totals": {
            "stored": sum(c.stored for c in counts),
            "tagged": sum(c.tagged for c in counts),
            "indexed": sum(c.indexed for c in counts),
        },
        "jobs": [
            {"name": job.name, "spider": job.spider, "schedule": job.schedule,
             "health": runs.get(job.name, {}).get("status", "never run"), "last_run": runs.get(job.name)}
            for job in jobs_of(settings).values()
        ],
        "models": {
            task: {"version": card["version"], "fallback": card.get("fallback", False),
                   "held_out_macro_f1": card.get("held_out", {}).get("macro_f1")}
            for task, card in cards.items()
        },
        "tagged_by": store.model_versions(),
        "segmenter": segment.engine_name(),
    }
    if as_json:
        emit_json(value)
        return
    click.echo(f"home      {value['home']}\ndatabase  {value['database']}\nsegmenter {value['segmenter']}")
    click.echo(f"index     {settings.index_backend}, {value['index']['documents']} documents\n")
    click.echo(f"{'platform':10} {'stored':>10} {'tagged':>10} {'indexed':>10}")
    for platform, row in value["posts"].items():
        click.echo(f"{platform:10} {row['stored']:>10} {row['tagged']:>10} {row['indexed']:>10}")
    t = value["totals"]
    click.echo(f"{'total':10} {t['stored']:>10} {t['tagged']:>10} {t['indexed']:>10}\n")
    for job in value["jobs"]:
        last = job["last_run"]
        detail = ""
        if last:  # stored in UTC (the JSON keeps it so); shown in China time, as everywhere else
            started = datetime.fromisoformat(last["started_at"]).astimezone(CHINA_TZ)
            detail = f"last run {started:%Y-%m-%d %H:%M:%S} (China time): {last['pages']} pages, {last['stored']} new"
        click.echo(f"job {job['name']:20} {job['health']:10} {job['schedule']:14} {detail}")
    for task, model in value["models"].items():
        quality = "FALLBACK (no trained model)" if model["fallback"] else f"held-out macro-F1 {model['held_out_macro_f1']}"
        click.echo(f"model {task:10} {model['version']:36} {quality}")
    for version, count in value["tagged_by"].items():
        click.echo(f"tagged {count:>9} posts with {version}")


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes [default: one per core].")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True, help="Threads per worker.")
@click.option("--access-log", default="-", show_default=True, help="Where to write the access log ('-': stdout).")
@with_home
def serve(settings: Settings, host, port, workers, threads, access_log):
    """Serve the review UI with gunicorn until Ctrl-C (or SIGTERM).

    \b
    Behind a login: search with facets, charts and near-duplicate clusters (/), post
    pages where analysts correct tags (/posts/ID), stories (/stories/), incidents with
    fact sheets, releases through drafting, approval and publication, and their
    dashboards (/incidents/), administration of organisations, users and the audit
    log (/admin), the JSON search API (/api/search); /healthz is open for probes.
    SIGHUP restarts the workers gracefully (they open the index and the models afresh).
    """
    from crisiswatch import server
    from crisiswatch.stages import open_store

    if server.port_in_use(host, port):  # gunicorn would retry for 5 s and log five errors
        fail(f"port {port} on {host} is in use (another server?): stop it, or choose another port with --port N")
    open_store(settings).close()  # create or upgrade the database once, before the workers open it
    server.serve(settings, host, port, workers=workers or server.default_workers(), threads=threads,
                 access_log=access_log)


@main.group(context_settings=CONTEXT)
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
@click.option("--limit", default=20_000, show_default=True, help="Tag this many posts of the real corpus.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: posts_per_s, chars_per_s, peak_rss_mb.")
@with_home
def bench_nlp_command(settings: Settings, limit, as_json):
    """Tag real Weibo posts with the full default pipeline in one process and time it.

    Uses the home's trained models (the lexicon fallback where there are none).
    """
    from crisiswatch.bench import bench_nlp

    _report_bench(lambda: bench_nlp(settings, limit, say=lambda m: click.echo(m, err=True)), as_json)


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


@main.command(context_settings=CONTEXT)
@with_home
def schedule(settings: Settings):
    """Run every crawl job on its schedule (crawl, then tag and index) until Ctrl-C."""
    import time

    from crisiswatch import publishing
    from crisiswatch.schedule import start_scheduler
    from crisiswatch.stages import jobs_of, open_store

    open_store(settings).close()
    stop_on_interrupt()
    scheduler = start_scheduler(settings, jobs_of(settings))
    for job in scheduler.get_jobs():
        what = "publishing" if job.id == publishing.JOB_ID else f"crawl job {job.id}"
        click.echo(f"{what}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S} (China time)")
    click.echo("scheduler running (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        scheduler.shutdown(wait=True)


@main.command(context_settings=CONTEXT)
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
    for release_id, reasons in report.held.items():
        click.echo(f"held      release {release_id}: it contradicts the fact sheet now: {'; '.join(reasons)}")
    click.echo(f"{len(report.results)} deliveries attempted, {report.failed_attempts} failed")
    if report.failed_attempts:
        sys.exit(1)


@main.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT")
@click.option("--sample/--no-sample", default=True, show_default=True,
              help="Also import a slice of the real Weibo corpus from the data folder, when present.")
@with_home
def demo(settings: Settings, host, port, sample):
    """The whole product on the embedded default, until Ctrl-C.

    \b
    Trains the classifiers if needed (NER then trains in a process of its own, at a
    lower priority, while the rest runs), imports three days of the real Weibo corpus,
    serves the bundled illustrative news site on loopback, runs the crawl jobs on their
    schedules (crawl -> tag -> index) and the publisher of due releases, and serves the
    review UI as `crisiswatch serve` does, with demo organisations, one user per role
    (passwords printed the first time) and an incident with its fact sheet.
    """
    from crisiswatch.demo import run_demo
    from crisiswatch.server import port_in_use

    if port_in_use(host, port):
        fail(f"port {port} on {host} is in use (another demo or server?): stop it, or choose another "
             f"port with --port N (with make: CRISISWATCH_PORT=N make demo)")
    stop_on_interrupt()
    run_demo(settings, host=host, port=port, sample=sample)


# -- people and the audit log ------------------------------------------------------------

CLI_ACTOR = "cli"  # who the audit log names for changes made here
ROLE_CHOICES = click.Choice(ROLES)
LEVEL_CHOICES = click.Choice(ORG_LEVELS)


def _workflow_session(settings: Settings):
    """A session on the workflow's tables of this home (created if missing)."""
    from core.store import Store
    from desk.database import open_sessions

    settings.ensure_home()
    try:
        return open_sessions(Store(settings.database_url).engine, settings.home)()
    except ValueError as err:  # the home's audit key is lost or damaged: it says what to do
        fail(str(err))


@main.group(context_settings=CONTEXT)
def org():
    """Organisations: government bodies and enterprises."""


@org.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(ORG_KINDS))
@click.option("--level", required=True, type=LEVEL_CHOICES,
              help="government: province, city, county or department; enterprise: company or branch.")
@click.option("--parent", help="The organisation it belongs under, by name.")
@with_home
def org_add(settings: Settings, name, kind, level, parent):
    """Create an organisation."""
    from desk import accounts

    with _workflow_session(settings) as session:
        try:
            above = accounts.find_organisation(session, parent) if parent else None
            if parent and above is None:
                raise accounts.AccountError("org_unknown", name=parent)
            accounts.create_organisation(session, name, kind, level, above, actor=CLI_ACTOR)
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()
    click.echo(f"created organisation {name}")


@org.command("list", context_settings=CONTEXT)
@with_home
def org_list(settings: Settings):
    """List the organisations."""
    from desk import accounts

    with _workflow_session(settings) as session:
        orgs = accounts.list_organisations(session)
        names = {item.id: item.name for item in orgs}
        for item in orgs:
            click.echo(f"{item.name}\t{item.kind}\t{item.level}\t{names.get(item.parent_id, '')}")


@main.group(context_settings=CONTEXT)
def user():
    """Users of the review UI: their organisation, roles and password."""


def _new_password(from_stdin: bool) -> tuple[str, bool]:
    """The password read from standard input, else a generated one (then it is printed)."""
    import secrets

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return secrets.token_urlsafe(12), True


@user.command("add", context_settings=CONTEXT)
@click.argument("username")
@click.option("--org", "org_name", required=True, help="The user's organisation, by name.")
@click.option("--role", "roles", multiple=True, required=True,
              type=ROLE_CHOICES, help="Repeatable.")
@click.option("--name", "display_name", help="The name shown in the UI (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated).")
@with_home
def user_add(settings: Settings, username, org_name, roles, display_name, password_stdin):
    """Create a user; prints the generated password unless --password-stdin."""
    from desk import accounts

    password, generated = _new_password(password_stdin)
    with _workflow_session(settings) as session:
        try:
            found = accounts.find_organisation(session, org_name)
            if found is None:
                raise accounts.AccountError("org_unknown", name=org_name)
            accounts.create_user(session, username, display_name or username, password, found, roles, actor=CLI_ACTOR)
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()
    click.echo(f"created user {username} ({', '.join(roles)}) in {org_name}")
    if generated:
        click.echo(f"password: {password}")


def _change_user(settings: Settings, username: str, change) -> None:
    """Apply ``change(session, user)`` to one user and commit, or fail with the reason."""
    from desk import accounts

    with _workflow_session(settings) as session:
        try:
            change(session, accounts.require_user(session, username))
        except accounts.AccountError as err:
            fail(str(err))
        session.commit()


@user.command("roles", context_settings=CONTEXT)
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True,
              type=ROLE_CHOICES, help="Repeatable.")
@with_home
def user_roles(settings: Settings, username, roles):
    """Replace a user's roles (recorded in the audit log)."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_roles(session, found, roles, actor=CLI_ACTOR))
    click.echo(f"{username}: {', '.join(roles)}")


@user.command("unlock", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_unlock(settings: Settings, username):
    """Lift the lock that repeated failed logins put on an account."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.unlock(session, found, actor=CLI_ACTOR))
    click.echo(f"{username} unlocked")


@user.command("disable", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_disable(settings: Settings, username):
    """Disable an account: its sessions end at once and it cannot log in until enabled."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_active(session, found, False, actor=CLI_ACTOR))
    click.echo(f"{username} disabled")


@user.command("enable", context_settings=CONTEXT)
@click.argument("username")
@with_home
def user_enable(settings: Settings, username):
    """Enable a disabled account again."""
    from desk import accounts

    _change_user(settings, username, lambda session, found: accounts.set_active(session, found, True, actor=CLI_ACTOR))
    click.echo(f"{username} enabled")


@user.command("password", context_settings=CONTEXT)
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated).")
@with_home
def user_password(settings: Settings, username, password_stdin):
    """Reset a user's password (prints the new one unless --password-stdin); this also
    unlocks the account and logs the user out everywhere."""
    from desk import accounts

    password, generated = _new_password(password_stdin)
    _change_user(settings, username,
                 lambda session, found: accounts.set_password(session, found, password, actor=CLI_ACTOR))
    click.echo(f"password of {username} reset" + (f": {password}" if generated else ""))


@user.command("list", context_settings=CONTEXT)
@with_home
def user_list(settings: Settings):
    """List the users: username, organisation, roles, and active, locked or disabled."""
    from desk import accounts

    with _workflow_session(settings) as session:
        names = {item.id: item.name for item in accounts.list_organisations(session)}
        for found in accounts.list_users(session):
            state = "locked" if accounts.is_locked(found) else ("active" if found.active else "disabled")
            click.echo(f"{found.username}\t{names[found.org_id]}\t{','.join(found.roles)}\t{state}")


@main.group(context_settings=CONTEXT)
def audit():
    """The audit log of every action: a keyed hash chain, anchored in <home>/audit-anchors.jsonl."""


@audit.command("verify", context_settings=CONTEXT)
@with_home
def audit_verify(settings: Settings):
    """Check the audit log: its hash chain, each entry's keyed hash (<home>/audit.key)
    and the log against every anchor. Exit 1 and name the first entry that breaks it, or
    the entries missing from its end; when it verifies, its head is anchored."""
    from desk import audit as audit_log

    with _workflow_session(settings) as session:
        result = audit_log.verify(session)
    if result.missing:
        fail(f"the audit log was cut short: {result.reason}")
    if not result.ok:
        where = f" at entry {result.broken_at}" if result.broken_at else ""
        before = f" ({result.entries - 1} entries before it verify)" if result.broken_at else ""
        fail(f"the audit log is broken{where}: {result.reason}{before}")
    click.echo(f"audit log verified: {result.entries} entries, anchored in {settings.home / audit_log.ANCHORS_FILE}")


@audit.command("export", context_settings=CONTEXT)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (default: stdout).")
@with_home
def audit_export(settings: Settings, out):
    """Write the audit log as JSON Lines, oldest entry first."""
    from desk import audit as audit_log

    with _workflow_session(settings) as session:
        lines = [json.dumps(entry, ensure_ascii=False) + "\n" for entry in audit_log.export(session)]
        audit_log.anchor(session)  # the export's last entry, anchored
    if out:
        out.write_text("".join(lines), encoding="utf-8")
        click.echo(f"wrote {len(lines)} entries to {out}", err=True)
    else:
        click.echo("".join(lines), nl=False)


if __name__ == "__main__":
    main()
