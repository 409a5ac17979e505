"""A scenario played live in a home, through the real path: the live site
(``crisiswatch.live_site``) serves its posts as their time comes, the scheduled crawls
(``live_jobs.toml``) pick them up, tagging, indexing and the alert rules run, and a player
applies its facts, releases and injects (``desk.replay.play_due``). ``crisiswatch demo``
plays the shipped scenario so; ``crisiswatch drill start`` a drill in a home of its own.

The home keeps the replay: stopped (Ctrl-C), its clock pauses; started again, it goes on
where it was, with no seeding or training to do again.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from core.settings import Settings
from crawlers.loopback import DEMO_SITE_ENV
from crisiswatch import stages
from crisiswatch.demo import (import_sample, precise_to_train, prepare_models, say_people, train_in_background,
                              train_precise_in_background)
from crisiswatch.live_site import LiveSite, serve
from crisiswatch.schedule import label, start_scheduler
from desk import replay as replays
from desk.clocks import load_clocks, scaled_clocks
from desk.scenario import Scenario
from desk.states import ReplayState

LIVE_JOBS = Path(__file__).with_name("live_jobs.toml")
PLAY_EVERY = 3  # seconds between the player's turns
# A demo begins this far into its scenario, the quiet hours before the outage already
# played: its first posts, facts and release are there at once, its rumor within a minute.
DEMO_LEAD = timedelta(hours=3, minutes=30)
HOUR = 3600
# The monitoring scheme of a live home, in the scenario's time (scaled to the replay's
# speed): a spike of the incident's posts in an hour against the three before, and the
# words of the scenario's rumor and of its cries for help.
RULES = (
    ("spike", {"window": HOUR, "baseline": 3 * HOUR, "cool_down": 2 * HOUR, "ratio": 3.0, "min_count": 3}),
    ("keyword", {"window": HOUR, "baseline": 3 * HOUR, "cool_down": 2 * HOUR,
                 "words": ["全城停电", "变电站被淹", "吸氧机"]}),
)
SHORTEST = 60  # seconds: the alert rules run each minute


def scaled(seconds: float, speed: float) -> int:
    return max(round(seconds / speed), SHORTEST)


def prepare_home(settings: Settings, sessions, scenario: Scenario, speed: float) -> None:
    """What a live home needs beside the scenario's people: its places (in the home's
    places file, read by the tag stage), the crawl jobs of the live site (where the home
    has none), a file channel per organisation, the monitoring scheme and the 5 h and 24 h
    clocks at the replay's speed."""
    from desk import alerts

    with sessions() as session:
        sides = replays.side_organisations(session, scenario)
        if not any(scheme.name == scenario.title for scheme in alerts.list_schemes(session)):
            watcher = next((sides[o.key] for o in scenario.organisations if o.kind == "government"),
                           sides[scenario.organisations[0].key])
            scheme = alerts.add_scheme(session, scenario.title, watcher, scenario.query, actor="scenario")
            for kind, params in RULES:
                durations = {name: scaled(value, speed) for name, value in params.items()
                             if name in ("window", "baseline", "cool_down")}
                alerts.add_rule(session, scheme, kind, {**params, **durations}, actor="scenario")
        session.commit()
    places = "adcode,name\n" + "".join(f"{place.code},{place.name}\n" for place in scenario.places)
    _write(settings.places_file, places)
    if not settings.jobs_file.exists():
        settings.jobs_file.write_text(LIVE_JOBS.read_text(encoding="utf-8"), encoding="utf-8")
    elif settings.jobs_file.read_text(encoding="utf-8") != LIVE_JOBS.read_text(encoding="utf-8"):
        click.secho(f"{settings.jobs_file} is the home's own: the live site's posts come only through jobs of "
                    f"{{demo_site}} such as those of {LIVE_JOBS}", fg="yellow")
    if not settings.channels_file.exists():
        settings.channels_file.write_text("".join(
            f'[[organisation]]\nname = "{org.name}"\ndaily_report = ["archive"]\n'
            f'[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
            f'folder = "exports/{org.name}"\n\n' for org in scenario.organisations), encoding="utf-8")
    clocks = settings.home / "clocks.toml"
    if not clocks.exists():  # a drill's home has its home's, scaled when the drill was made
        clocks.write_text(scaled_clocks(load_clocks(), speed), encoding="utf-8")


def _write(path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def refuse_another(session, scenario: Scenario) -> None:
    """A home plays one scenario at a time: another's replay must end first."""
    playing = replays.current(session)
    if playing is not None and playing.scenario != scenario.name and playing.state != ReplayState.ENDED:
        raise click.ClickException(f"this home plays {playing.scenario}: end it first, or use another home")


def take_up(session, scenario: Scenario, kind: str, speed: float):
    """The home's replay of ``scenario``, going on: a paused demo resumes (it paused when
    it stopped); none yet, one starts (a demo ``DEMO_LEAD`` into its scenario, a drill
    ready for its director)."""
    playing = replays.current(session)
    if playing is None or playing.scenario != scenario.name:
        lead = DEMO_LEAD / speed if kind == "demo" else timedelta(0)
        return replays.start(session, scenario, kind, speed, now=datetime.now(timezone.utc) - lead)
    if playing.kind == "demo" and playing.state == ReplayState.PAUSED:
        replays.resume(session, playing)
    return playing


def play(settings: Settings, scenario: Scenario, stopped: threading.Event) -> None:
    """The player: every ``PLAY_EVERY`` seconds, what the running replay has due (facts,
    the demo's releases and injects); a demo that has reached its scenario's end ends."""
    from desk.database import open_sessions

    store = stages.open_store(settings)
    sessions = open_sessions(store.engine, settings.home)
    try:
        while not stopped.wait(PLAY_EVERY):
            try:
                with sessions() as session:
                    playing = replays.current(session)
                    if playing is None or playing.state != ReplayState.RUNNING:
                        continue
                    now = datetime.now(timezone.utc)
                    done = replays.play_due(session, store, playing, scenario, now=now)
                    if playing.kind == "demo" and playing.offset_at(now) >= scenario.length:
                        replays.end(session, playing, now)
                        done.append(f"the scenario has played to its end ({scenario.length})")
                    session.commit()
                for line in done:
                    click.echo(line)
            except Exception as err:  # noqa: BLE001 - the next turn tries again; the demo goes on
                click.secho(f"the player's turn failed ({err!r}); it tries again", fg="red", err=True)
    finally:
        store.close()


def import_sample_later(settings: Settings, stopped: threading.Event, wait: float = 5) -> None:
    """The sample of real posts, once the first crawls of the live site are tagged and
    indexed: tagging its eleven thousand posts first held the scenario's back for minutes."""
    store = stages.open_store(settings)
    try:
        while not stopped.wait(wait):
            counts = store.counts()
            if counts and all(platform.stored == platform.tagged == platform.indexed for platform in counts):
                import_sample(settings, store)
                return
    finally:
        store.close()


def stop_replay(sessions) -> bool:
    """Pause the clock of a replay that runs: it goes on from there at the next start.
    True where the replay has ended instead (the director ended the drill)."""
    with sessions() as session:
        playing = replays.current(session)
        if playing is not None and playing.state == ReplayState.RUNNING:
            replays.pause(session, playing)
            session.commit()
        return playing is not None and playing.state == ReplayState.ENDED


@contextmanager
def playing_here(settings: Settings):
    """Hold the home's live lock while its replay plays here, or refuse: two live runs of a
    home would crawl, train and play twice, and the first to stop would pause the
    other's clock. The lock goes with its holder's process, however that ends."""
    settings.home.mkdir(parents=True, exist_ok=True)  # a first demo makes its home
    with (settings.home / "live.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(f"{settings.home} plays its replay in another process already "
                                       "(crisiswatch demo or drill run): stop that one first") from None
        yield


def run_live(settings: Settings, scenario: Scenario, kind: str, speed: float, host: str, port: int,
             sample: bool = False) -> None:
    """Play ``scenario`` in the home until Ctrl-C. The review UI is served by ``crisiswatch
    serve`` in a child process, started first so that it answers while the models train
    (gunicorn forks its workers, which must not happen in a process running threads, as
    this one does); the live site, the scheduler and the player run here, and NER trains
    in a process of its own."""
    with playing_here(settings):
        _run_live(settings, scenario, kind, speed, host, port, sample)


def _run_live(settings: Settings, scenario: Scenario, kind: str, speed: float, host: str, port: int,
              sample: bool) -> None:
    from desk.database import open_sessions

    store = stages.open_store(settings)
    sessions = open_sessions(store.engine, settings.home)
    with sessions() as session:
        refuse_another(session, scenario)
        created = replays.seed_organisations(session, scenario)
        session.commit()
    if kind == "demo":  # a drill's people were printed when it was made (crisiswatch drill start)
        say_people(created)
    click.echo(f"access log: {settings.home / 'logs' / 'access.log'}")
    ui = subprocess.Popen([sys.executable, "-m", "crisiswatch", "serve", "--home", str(settings.home), "--host", host,
                           "--port", str(port), "--access-log", str(settings.home / "logs" / "access.log")],
                          stdin=subprocess.DEVNULL)
    site = scheduler = None
    stopped = threading.Event()
    training: list[subprocess.Popen] = []
    try:
        later = prepare_models(settings)
        with sessions() as session:  # its clock runs once the models are ready
            playing = take_up(session, scenario, kind, speed)
            speed, state = playing.speed, playing.state
            session.commit()
        prepare_home(settings, sessions, scenario, speed)
        click.echo(f"scenario {scenario.name} ({scenario.title}): a {kind} at {speed:g} times the clock, {state}")
        site, site_url = serve(LiveSite(scenario, sessions))
        os.environ[DEMO_SITE_ENV] = site_url
        click.echo(f"the scenario's live site on {site_url}/ (news, official releases, Weibo, WeChat, Tieba)")
        threading.Thread(target=play, args=(settings, scenario, stopped), name="player", daemon=True).start()
        scheduler = start_scheduler(settings, stages.jobs_of(settings))
        if sample:
            threading.Thread(target=import_sample_later, args=(settings, stopped), daemon=True).start()
        training = train_in_background(settings, later)
        precise_tasks = precise_to_train(settings)
        if precise_tasks:
            train_precise_in_background(settings, precise_tasks, training, stopped)
        for job in scheduler.get_jobs():
            click.echo(f"{label(job)}: next run {job.next_run_time:%Y-%m-%d %H:%M:%S} (China time)")
        if ui.wait() != 0:
            click.secho(f"the review UI stopped (exit {ui.returncode})", fg="red", err=True)
            raise SystemExit(1)  # after the clean-up below: a live replay without its UI has failed
    except KeyboardInterrupt:
        pass
    finally:
        stopped.set()
        ended = stop_replay(sessions)
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
        click.echo(f"{kind} stopped (the {kind} has ended)" if ended
                   else f"{kind} stopped (its clock paused; it goes on from there at the next start)")
