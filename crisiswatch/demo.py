"""``crisiswatch demo``: every stage on the embedded default, in one process tree."""

from __future__ import annotations

import os
import threading

import click

from core.settings import Settings
from crawlers.loopback import DEMO_SITE_ENV, demo_site
from crisiswatch import stages
from crisiswatch.importer import import_files
from crisiswatch.schedule import start_scheduler
from nlp.datasets import TRAINING_FILES

# The first days of the real Weibo corpus: enough to make search worth trying.
SAMPLE_FILES = ("2020-01-19.csv.gz", "2020-01-20.csv.gz", "2020-01-21.csv.gz")


def prepare_models(settings: Settings) -> list[str]:
    """Train each classifier that is missing or outdated from the data folder now, and say
    which fall back; return the slow tasks (NER, minutes) to train while the demo runs."""
    missing = stages.untrained_tasks(settings)
    trainable = [task for task in missing if (settings.data_dir / TRAINING_FILES[task]).exists()]
    now = [task for task in trainable if task != "ner"]
    if now:
        click.echo(f"training {', '.join(now)} from {settings.data_dir} (once; about a minute)")
        stages.train(settings, now, say=lambda m: click.echo("  " + m))
    if set(missing) - set(trainable):
        fallback = ", ".join(t for t in missing if t not in trainable)
        click.secho(f"no training data in {settings.data_dir} for {fallback}: tagging without it "
                    "(the lexicon FALLBACK for classifiers, gazetteer places only for NER)", fg="yellow")
    return [task for task in trainable if task == "ner"]


def train_in_background(settings: Settings, tasks: list[str]) -> None:
    """Train while the demo serves; each tag run after it finishes uses the new model."""
    if not tasks:
        return
    click.echo(f"training {', '.join(tasks)} in the background (a few minutes); posts tagged before then "
               "get gazetteer places only")

    def train() -> None:
        for card in stages.train(settings, tasks, say=lambda _m: None):
            click.echo(f"{card['task']} model ready: {card['version']}")

    threading.Thread(target=train, name="train-in-background", daemon=True).start()


def import_sample(settings: Settings, store) -> None:
    files = [settings.data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [f for f in files if f.exists()]
    if files and not store.counts():
        report = import_files(store, files)
        click.echo(f"imported {report.imported} real Weibo posts from {len(files)} sample files")


def run_demo(settings: Settings, host: str, port: int, sample: bool) -> None:
    from review_ui import create_app

    store = stages.open_store(settings)
    later = prepare_models(settings)
    if sample:
        import_sample(settings, store)
    server, site_url = demo_site()
    os.environ[DEMO_SITE_ENV] = site_url
    jobs = stages.jobs_of(settings)
    click.echo(f"illustrative demo site on {site_url}/")
    stages.tag(settings, store, quiet=True)
    stages.index(settings, store, quiet=True)
    scheduler = start_scheduler(settings, jobs)
    train_in_background(settings, later)
    for job in scheduler.get_jobs():
        click.echo(f"crawl job {job.id}: next run {job.next_run_time:%Y-%m-%d %H:%M} (China time)")
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
