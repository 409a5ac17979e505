"""``crisiswatch demo``: every stage on the embedded default, in one process tree."""

from __future__ import annotations

import os

import click

from core.settings import Settings
from crawlers.loopback import demo_site
from crisiswatch import stages
from crisiswatch.importer import import_files
from crisiswatch.schedule import start_scheduler
from nlp.datasets import TRAINING_FILES

# The first days of the real Weibo corpus: enough to make search worth trying.
SAMPLE_FILES = ("2020-01-19.csv.gz", "2020-01-20.csv.gz", "2020-01-21.csv.gz")


def prepare_models(settings: Settings) -> None:
    """Train each model that is missing or outdated from the data folder; say which fall back."""
    missing = stages.untrained_tasks(settings)
    trainable = [task for task in missing if (settings.data_dir / TRAINING_FILES[task]).exists()]
    if trainable:
        click.echo(f"training {', '.join(trainable)} from {settings.data_dir} (once; about a minute)")
        stages.train(settings, trainable, say=lambda m: click.echo("  " + m))
    if set(missing) - set(trainable):
        fallback = ", ".join(t for t in missing if t not in trainable)
        click.secho(f"no training data in {settings.data_dir} for {fallback}: tagging with the lexicon FALLBACK",
                    fg="yellow")


def import_sample(settings: Settings, store) -> None:
    files = [settings.data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [f for f in files if f.exists()]
    if files and not store.counts():
        report = import_files(store, files)
        click.echo(f"imported {report.imported} real Weibo posts from {len(files)} sample files")


def run_demo(settings: Settings, host: str, port: int, sample: bool) -> None:
    from review_ui import create_app

    store = stages.open_store(settings)
    prepare_models(settings)
    if sample:
        import_sample(settings, store)
    server, site_url = demo_site()
    os.environ[stages.DEMO_SITE_ENV] = site_url
    jobs = stages.jobs_of(settings)
    click.echo(f"illustrative demo site on {site_url}/")
    stages.tag(settings, store, quiet=True)
    stages.index(settings, store, quiet=True)
    scheduler = start_scheduler(settings, jobs)
    click.echo(f"scheduler running {len(jobs)} crawl jobs: {', '.join(jobs)} (first runs now)")
    click.secho(f"review UI on http://{host}:{port}/  (Ctrl-C to stop)", fg="green", bold=True)
    try:
        create_app(settings, store=store).run(host=host, port=port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
        if server is not None:
            server.shutdown()
        click.echo("demo stopped")
