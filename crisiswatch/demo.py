"""``crisiswatch demo``: every stage on the embedded default, in one process tree."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import click

from core.schema import CHINA_TZ, make_post
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
    from nlp import encoder, precise

    folder = precise.model_dir(settings.models_dir, task)
    if any(not (folder / name).is_file() for name in (*encoder.FILES, precise.CARD)):
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
    files = [settings.data_dir / "weibo_covid_2020" / name for name in SAMPLE_FILES]
    files = [f for f in files if f.exists()]
    if files and not store.counts():
        report = import_files(store, files)
        click.echo(f"imported {report.imported} real Weibo posts from {len(files)} sample files")


SCENARIO = "binhai_typhoon"  # of desk/scenarios: the demo's incident, seeded as the day just past
# The demo user who speaks for each kind of the scenario's organisations (its two sides).
SPEAKERS = {"enterprise": "grid_drafter", "government": "city_drafter"}


@lru_cache(maxsize=1)
def demo_scenario():
    from desk import scenario

    return scenario.load(SCENARIO)


def seed_people(settings: Settings, store, end: datetime | None = None) -> list[tuple[str, str, str, list[str]]]:
    """The demo's organisations and users (see ``accounts.seed_demo``), the scenario's
    incident with its fact sheet (see ``seed_incident``), the monitoring scheme of its
    typhoon, and a file channel per organisation (so that a scheduled release, a report
    sent and the 08:00 daily report are written to ``<home>/exports/``); returns the users
    created now."""
    from desk import accounts
    from desk.database import open_sessions
    from desk.tables import Incident

    with open_sessions(store.engine, settings.home)() as session:
        created = accounts.seed_demo(session)
        seed_scheme(session)
        if not session.query(Incident).count():
            seed_incident(session, end or datetime.now(timezone.utc))
        session.commit()
    if not settings.channels_file.exists():
        settings.channels_file.write_text("".join(
            f'[[organisation]]\nname = "{name}"\ndaily_report = ["archive"]\n'
            f'[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
            f'folder = "exports/{name}"\n\n' for name, *_ in accounts.DEMO_ORGS), encoding="utf-8")
    return created


def seed_incident(session, end: datetime):
    """The scenario's incident, started at its start in the day that ends at ``end``, and
    its facts, each set at its time by the demo user who speaks for its side."""
    from desk import accounts, facts, releases

    scenario = demo_scenario()
    start = end - scenario.length
    speakers = {kind: accounts.find_user(session, username) for kind, username in SPEAKERS.items()}
    incident = releases.create_incident(  # every demo organisation handles it, so each may set facts
        session, speakers["enterprise"], scenario.title, scenario.query,
        org_ids=[accounts.find_organisation(session, name).id for name, *_ in accounts.DEMO_ORGS])
    incident.started_at = start.astimezone(timezone.utc).replace(tzinfo=None)
    for fact in scenario.facts:
        value = list(fact.value) if isinstance(fact.value, tuple) else fact.value
        facts.set_fact(session, speakers[scenario.organisation(fact.by).kind], incident, fact.key, value,
                       at=start + fact.at)


def scenario_start(settings: Settings, store) -> datetime:
    """Where the scenario's day was placed: at its incident's start (the same on every
    run), or, on a home whose incident is another, in the day just past."""
    from desk.database import open_sessions
    from desk.tables import Incident

    scenario = demo_scenario()
    with open_sessions(store.engine, settings.home)() as session:
        started = (session.query(Incident.started_at).filter(Incident.title == scenario.title)
                   .order_by(Incident.id).first())
    if started is not None:
        return started[0].replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - scenario.length


def seed_scenario(settings: Settings, store) -> int:
    """The scenario's posts and releases, stored at their times (``scenario_start``), each
    under a stable id, so that a rerun, or a run after one that was killed, stores none
    twice; its places go to the home's places file, read by the tag stage. Returns how
    many posts were new."""
    scenario = demo_scenario()
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([("adcode", "name"), *((p.code, p.name) for p in scenario.places)])
    if not settings.places_file.exists() or settings.places_file.read_text(encoding="utf-8") != table.getvalue():
        settings.places_file.write_text(table.getvalue(), encoding="utf-8")
    start, source = scenario_start(settings, store), f"scenario:{scenario.name}"
    posts = [make_post(platform=post.platform, platform_id=scenario.stored_id(post.id), kind=post.kind,
                       text=post.text, title=post.title, author_id=post.author, author_name=post.author,
                       author_verified=post.verified, created_at=start + post.at,
                       parent_id=scenario.stored_id(post.parent) if post.parent else None,
                       reposts_count=post.reposts, comments_count=post.comments, likes_count=post.likes, source=source)
             for post in scenario.posts]
    posts += [make_post(platform="gov", platform_id=scenario.stored_id(release.id), kind="release", text=release.text,
                        title=release.title, author_name=scenario.organisation(release.by).name, author_verified=True,
                        created_at=start + release.at, source=source)
              for release in scenario.releases]
    return store.upsert_posts(posts).inserted


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


def site_indexed(store) -> bool:
    """Whether the demo site's news and notices are indexed: more posts of those platforms
    than the scenario's own articles and releases."""
    typhoon = demo_scenario()
    seeded = {"news": sum(post.platform == "news" for post in typhoon.posts), "gov": len(typhoon.releases)}
    indexed = {counts.platform: counts.indexed for counts in store.counts()}
    return all(indexed.get(platform, 0) > count for platform, count in seeded.items())


def replay_when_crawled(settings: Settings, stopped: threading.Event, wait: float = 5) -> None:
    """Once the first crawls have indexed the demo site's news and notices, replay the
    demo's days through its rules (the scheduler's own checks look at the hours up to now)."""
    store = stages.open_store(settings)
    try:
        while not stopped.wait(wait):
            if site_indexed(store):
                click.echo(f"monitoring scheme {DEMO_SCHEME[0]}: {replay_alerts(settings, store)} alerts on the "
                           "demo site's posts (see Alerts in the review UI)")
                return
    finally:
        store.close()


def say_when_alerts(settings: Settings, store, scheduler) -> None:
    """On a home that has not indexed the demo site yet, when its alerts will come: the
    replay waits for its news and notices, crawled at their jobs' next runs."""
    crawls = {name for name, job in stages.jobs_of(settings).items() if job.uses_demo_site}
    runs = [job.next_run_time for job in scheduler.get_jobs() if job.id in crawls]
    if runs and not site_indexed(store):
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
    seeded = seed_scenario(settings, store)
    if seeded:
        click.echo(f"scenario {SCENARIO}: {seeded} posts of its typhoon stored as the day just past "
                   f"(the incident {demo_scenario().title!r} started then)")
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
        precise_tasks = precise_to_train(settings)
        if precise_tasks:
            train_precise_in_background(settings, precise_tasks, training, stopped)
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
            stages.stop_crawls()
        if site is not None:
            site.shutdown()
        store.close()
        click.echo("demo stopped")
