"""``crisiswatch demo``: every stage on the embedded default, in one process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import click

from core.schema import CHINA_TZ
from core.settings import Settings
from crawlers.loopback import DEMO_SITE_ENV, demo_site
from crisiswatch import stages
from crisiswatch.importer import import_files
from crisiswatch.schedule import label, start_scheduler
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


def _say_when_trained(settings: Settings, task: str, process: subprocess.Popen) -> None:
    if process.wait() == 0:
        click.echo(f"{task} model ready: {model_cards(settings.models_dir)[task]['version']}")
    elif process.returncode > 0:  # not stopped with the demo
        click.secho(f"training {task} failed (exit {process.returncode}): see "
                    f"{settings.home / 'logs' / f'train-{task}.log'}", fg="red", err=True)


def import_sample(settings: Settings, store) -> None:
    files = [settings.data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [f for f in files if f.exists()]
    if files and not store.counts():
        report = import_files(store, files)
        click.echo(f"imported {report.imported} real Weibo posts from {len(files)} sample files")


DEMO_INCIDENT = "7月25日 台风致海口市琼山区、美兰区停电"
DEMO_FACTS = (("households", "12000"), ("restoration_estimate", "7月26日18:00"), ("hotline", "95598"),
              ("affected_areas", ["琼山区", "美兰区"]), ("cause", "台风致10千伏线路故障"))


def seed_people(settings: Settings, store) -> list[tuple[str, str, str, list[str]]]:
    """The demo's organisations and users (see ``accounts.seed_demo``), an incident with
    its fact sheet, the monitoring scheme of its typhoon, and a file channel per
    organisation (so that a scheduled release is published to ``<home>/exports/``);
    returns the users created now."""
    from desk import accounts, facts, releases
    from desk.database import open_sessions
    from desk.tables import Incident

    with open_sessions(store.engine, settings.home)() as session:
        created = accounts.seed_demo(session)
        seed_scheme(session)
        if not session.query(Incident).count():
            drafter = accounts.find_user(session, "grid_drafter")
            incident = releases.create_incident(  # every demo organisation handles it, so each may set facts
                session, drafter, DEMO_INCIDENT, "停电 OR 限电 OR 抢修 OR 供电",
                org_ids=[accounts.find_organisation(session, name).id for name, *_ in accounts.DEMO_ORGS])
            for key, value in DEMO_FACTS:
                facts.set_fact(session, drafter, incident, key, value)
        session.commit()
    if not settings.channels_file.exists():
        settings.channels_file.write_text("".join(
            f'[[organisation]]\nname = "{name}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
            f'folder = "exports/{name}"\n\n' for name, *_ in accounts.DEMO_ORGS), encoding="utf-8")
    return created


# The demo's monitoring scheme for its fictional typhoon: the emergency bureau watches the
# outage, a spike of it in a day against the three days before, and the rumors and cries
# for help of the demo site's posts. The site's posts are of 25 to 27 July 2024, so its
# rules look at a day, and ``replay_alerts`` evaluates them as at each hour of those days.
DEMO_SCHEME = ("滨海台风停电", "海口市应急管理局", "停电 OR 断电 OR 抢修 OR 供电")
DAY = 24 * 3600
DEMO_RULES = (
    ("spike", {"window": DAY, "baseline": 3 * DAY, "cool_down": DAY, "ratio": 3.0, "min_count": 3}),
    ("keyword", {"window": DAY, "baseline": 3 * DAY, "cool_down": DAY,
                 "words": ["全城停电", "送往外省", "吸氧机"]}),
)
DEMO_DAYS = (datetime(2024, 7, 25, tzinfo=CHINA_TZ), datetime(2024, 7, 28, tzinfo=CHINA_TZ))


def seed_scheme(session) -> None:
    """The demo's monitoring scheme and its rules, unless a scheme of its name exists."""
    from desk import accounts, alerts

    name, org, text = DEMO_SCHEME
    if any(scheme.name == name for scheme in alerts.list_schemes(session)):
        return
    scheme = alerts.add_scheme(session, name, accounts.find_organisation(session, org), text, actor="demo")
    for kind, params in DEMO_RULES:
        alerts.add_rule(session, scheme, kind, params, actor="demo")


def replay_alerts(settings: Settings, store) -> int:
    """Evaluate the rules as at each hour of the demo's days (its site's posts are of
    then): the number of alerts opened."""
    from desk import alerts
    from desk.database import open_sessions
    from indexes.backends import open_index

    index = open_index(settings)
    opened = 0
    with open_sessions(store.engine, settings.home)() as session:
        at = DEMO_DAYS[0]
        while at <= DEMO_DAYS[1]:
            opened += sum(change.opened for change in alerts.check(session, store, index, at, actor="demo"))
            at += timedelta(hours=1)
        session.commit()
    return opened


def replay_when_crawled(settings: Settings, stopped: threading.Event, wait: float = 5) -> None:
    """Once the first crawls have indexed the demo site's news and notices, replay the
    demo's days through its rules (the scheduler's own checks look at the hours up to now)."""
    store = stages.open_store(settings)
    try:
        while not stopped.wait(wait):
            indexed = {counts.platform for counts in store.counts() if counts.indexed}
            if {"news", "gov"} <= indexed:
                click.echo(f"monitoring scheme {DEMO_SCHEME[0]}: {replay_alerts(settings, store)} alerts on the "
                           "demo site's posts (see Alerts in the review UI)")
                return
    finally:
        store.close()


def say_when_alerts(settings: Settings, store, scheduler) -> None:
    """On a home that has not indexed the demo site yet, when its alerts will come: the
    replay waits for its news and notices, crawled at their jobs' next runs."""
    indexed = {counts.platform for counts in store.counts() if counts.indexed}
    crawls = {name for name, job in stages.jobs_of(settings).items() if job.uses_demo_site}
    runs = [job.next_run_time for job in scheduler.get_jobs() if job.id in crawls]
    if runs and not {"news", "gov"} <= indexed:
        click.echo(f"alerts on the demo site's posts: once its news and notices are crawled and indexed, after the "
                   f"crawl at {max(runs):%Y-%m-%d %H:%M} (China time)")


def say_people(created: list[tuple[str, str, str, list[str]]]) -> None:
    if not created:
        click.echo("demo users exist already (their passwords were printed when they were made); "
                   "new password: crisiswatch user password USERNAME")
        return
    click.echo("demo users (passwords are shown only now; log in with any of them):")
    for username, password, org, roles in created:
        click.echo(f"  demo user {username:15} password {password}  {org} ({', '.join(roles)})")


def run_demo(settings: Settings, host: str, port: int, sample: bool) -> None:
    """The review UI is served by ``crisiswatch serve`` in a child process, started first so
    that it answers while the models train and the sample is imported (gunicorn forks its
    workers, which must not happen in a process running threads, as this one does); the
    stages, the scheduler and the demo site run here, and NER trains in a process of its own."""
    store = stages.open_store(settings)
    say_people(seed_people(settings, store))
    click.echo(f"access log: {settings.home / 'logs' / 'access.log'}")
    ui = subprocess.Popen([sys.executable, "-m", "crisiswatch", "serve", "--home", str(settings.home), "--host", host,
                           "--port", str(port), "--access-log", str(settings.home / "logs" / "access.log")],
                          stdin=subprocess.DEVNULL)
    site = scheduler = None
    stopped = threading.Event()
    training: list[subprocess.Popen] = []
    try:
        later = prepare_models(settings)
        if sample:
            import_sample(settings, store)
        try:
            site, site_url = demo_site()
        except OSError as err:
            click.secho(str(err), fg="red", err=True)
            raise SystemExit(1) from None  # after the clean-up below
        os.environ[DEMO_SITE_ENV] = site_url
        click.echo(f"illustrative demo site on {site_url}/")
        stages.tag(settings, store, quiet=True)
        stages.index(settings, store, quiet=True)
        scheduler = start_scheduler(settings, stages.jobs_of(settings))
        threading.Thread(target=replay_when_crawled, args=(settings, stopped), daemon=True).start()
        training = train_in_background(settings, later)
        for job in scheduler.get_jobs():
            click.echo(f"{label(job)}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S} (China time)")
        say_when_alerts(settings, store, scheduler)
        if ui.wait() != 0:
            click.secho(f"the review UI stopped (exit {ui.returncode})", fg="red", err=True)
            raise SystemExit(1)  # after the clean-up below: a demo without its UI has failed
    except KeyboardInterrupt:
        pass
    finally:
        stopped.set()
        for process in [ui, *training]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the UI finishes the requests in flight
                process.wait()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if site is not None:
            site.shutdown()
        store.close()
        click.echo("demo stopped")
