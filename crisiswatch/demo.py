"""The demo's pieces: its models trained before and while it runs, its sample of real
posts, the scenario it plays live (``crisiswatch.live``) and its people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch import stages
from crisiswatch.importer import import_files
from nlp import topic_model
from nlp.datasets import TRAINING_FILES
from nlp.models import model_cards

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
    if topic_model.is_outdated(settings.models_dir):  # learnt from the analysts' corrections: seconds
        stages.train_topics(settings, say=lambda m: click.echo("  " + m))
    if set(missing) - set(trainable):
        fallback = ", ".join(t for t in missing if t not in trainable)
        click.secho(f"no training data in {settings.data_dir} for {fallback}: tagging without it "
                    "(the lexicon FALLBACK for classifiers, gazetteer places only for NER)", fg="yellow")
    return [task for task in trainable if task == "ner"]


TRAINING_NICENESS = 10  # training yields the cores to the UI, the crawls and the publisher


def train_in_background(settings: Settings, tasks: list[str], data_file: Path | None = None) -> list[subprocess.Popen]:
    """Train each task in a process of its own, at a lower priority, while the demo serves:
    no request or scheduled job waits on it (in a thread of the serving process it took
    most of the interpreter for minutes). Each tag run after it finishes uses the new
    model, and the UI reads the model cards on each request. Returns the processes."""
    if not tasks:
        return []
    click.echo(f"training {', '.join(tasks)} in the background (a few minutes, at a lower priority; "
               f"log in {settings.home / 'logs'}); posts tagged before then get the model's places and organisations "
               "at the next tag run (a crawl job's, or `crisiswatch tag`)")
    processes = []
    for task in tasks:
        command = [sys.executable, "-m", "crisiswatch", "train", task, "--home", str(settings.home)]
        if data_file is not None:
            command += ["--data", str(data_file)]
        with (settings.home / "logs" / f"train-{task}.log").open("ab") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        # Set from here: a preexec_fn is unsafe in a process that runs threads, as this one does.
        os.setpriority(os.PRIO_PROCESS, process.pid, os.getpriority(os.PRIO_PROCESS, 0) + TRAINING_NICENESS)
        threading.Thread(target=_say_when_trained, args=(settings, task, process), daemon=True).start()
        processes.append(process)
    return processes


def precise_to_train(settings: Settings) -> list[str]:
    """The precise tier's tasks the demo fine-tunes in the background: none without the
    encoder or torch and transformers; else those with training data whose model is
    missing or was fine-tuned from another encoder (a restart does not train again)."""
    from nlp import encoder, precise

    if encoder.problem(settings.encoder_dir) or not all(find_spec(name) for name in ("torch", "transformers")):
        return []
    return [task for task in precise.TASKS if (settings.data_dir / TRAINING_FILES[task]).exists()
            and not _precise_current(settings, task)]


def _precise_current(settings: Settings, task: str) -> bool:
    from nlp import precise

    folder = precise.model_dir(settings.models_dir, task)
    if precise.model_problem(settings.models_dir, task):  # missing or damaged: trained anew
        return False
    return json.loads((folder / precise.CARD).read_text(encoding="utf-8")).get("encoder") == str(settings.encoder_dir)


def train_precise_in_background(settings: Settings, tasks: list[str], after: list[subprocess.Popen],
                                stopped: threading.Event) -> threading.Thread:
    """Once ``after`` (NER's training) ends, fine-tune the precise tier's ``tasks`` one at a
    time in processes at a lower priority (two cores: one training at a time), then re-tag
    precisely within the scheduler's budget and index; says each step on the console. The
    processes are the scheduler's children: ``stages.stop_crawls`` stops them."""
    from desk.status import precise_progress
    from nlp import precise

    def run() -> None:
        for process in after:
            process.wait()
        for task in tasks:
            if stopped.is_set():
                return
            log = settings.home / "logs" / f"train-precise-{task}.log"
            command = [sys.executable, "-m", "crisiswatch", "train", task, "--tier", "precise",
                       "--home", str(settings.home)]
            if stages.run_child(command, log, TRAINING_NICENESS) != 0:
                if not stopped.is_set():
                    click.secho(f"training the precise {task} model failed: see {log}", fg="red", err=True)
                return
            card = precise.model_dir(settings.models_dir, task) / precise.CARD
            figures = json.loads(card.read_text(encoding="utf-8"))["held_out"]
            click.echo(f"precise {task} model ready: held-out macro-F1 {figures['macro_f1']}")
        if not stopped.is_set() and stages.tag_precise_in_child(settings):
            store = stages.open_store(settings)
            try:
                stages.index(settings, store, quiet=True)
                click.echo(f"precise tags ready: {precise_progress(settings, store)['tagged']} posts "
                           "(more after each crawl job's tag batch)")
            finally:
                store.close()

    click.echo(f"training the precise tier ({', '.join(tasks)}) in the background after the fast models "
               f"(up to 20 minutes each, at a lower priority; log in {settings.home / 'logs'})")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _say_when_trained(settings: Settings, task: str, process: subprocess.Popen) -> None:
    if process.wait() == 0:
        click.echo(f"{task} model ready: {model_cards(settings.models_dir)[task]['version']}")
    elif process.returncode > 0:  # not stopped with the demo
        click.secho(f"training {task} failed (exit {process.returncode}): see "
                    f"{settings.home / 'logs' / f'train-{task}.log'}", fg="red", err=True)


def import_sample(settings: Settings, store) -> None:
    """The sample files of the data folder, unless the store holds their posts already."""
    from sqlalchemy import select

    from core.store import PostRow

    files = [settings.data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [f for f in files if f.exists()]
    with store.engine.connect() as conn:
        imported = files and conn.execute(select(PostRow.id).where(PostRow.source == files[0].name).limit(1)).first()
    if files and not imported:
        report = import_files(store, files)
        click.echo(f"imported {report.imported} real Weibo posts from {len(files)} sample files")


SCENARIO = "binhai_typhoon"  # of desk/scenarios: what the demo plays (crisiswatch.live)


@lru_cache(maxsize=1)
def demo_scenario():
    from desk import scenario

    return scenario.load(SCENARIO)


def say_people(created: list[tuple[str, str, str, list[str]]]) -> None:
    if not created:
        click.echo("demo users exist already (their passwords were printed when they were made); "
                   "new password: crisiswatch user password USERNAME")
        return
    click.echo("demo users (passwords are shown only now; log in with any of them):")
    for username, password, org, roles in created:
        click.echo(f"  demo user {username:15} password {password}  {org} ({', '.join(roles)})")
