"""Drills (演练): a scenario played live in a home of its own, for press offices to answer
while a director steers it, and the drill report that scores them (desk.drill_report).

A drill's home is ``<home>/drills/<scenario>-<YYYYmmdd-HHMMSS>/``: its database, index,
posts and people are its own, so that drill data never mixes with real data. It holds a
copy of the scenario file (``scenario.toml``) and of the home's trained models, the
scenario's organisations and people (desk.replay.seed_organisations), those of ``--orgs``
copied from the home with their logins, a file channel for each organisation
(``exports/``), the home's rumor clocks run ``--speed`` times faster (``clocks.toml``) and
the replay, ready until its director starts it on ``/drill/``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

import click

from core.settings import Settings
from crisiswatch.commands.common import CONTEXT, SPEED, emit_json, fail, speed_option, stop_on_interrupt, with_home
from crisiswatch.commands.people import CLI_ACTOR
from crisiswatch.commands.reports import FORMATS, _check_output, _china_map

DRILLS = "drills"  # the folder of a home that holds its drills' homes
DEFAULT_SPEED = 48.0  # the scenario's day in half an hour


@click.group(context_settings=CONTEXT)
def drill():
    """Drills: a scenario played live for press offices, steered by a director, scored at the end.

    \b
    Examples:
      crisiswatch drill start binhai_typhoon --speed 48 --orgs 市应急管理局
      crisiswatch drill status
      crisiswatch drill report --format pdf --out drill.pdf
    """


@drill.command(context_settings=CONTEXT)
@click.argument("scenario")
@click.option("--speed", type=SPEED, callback=speed_option, default=DEFAULT_SPEED, show_default=True,
              help="How many times faster than the scenario's own clock it plays.")
@click.option("--orgs", default="", help="Organisations of this home that take part, by name, comma-separated: "
                                         "copied into the drill with their users, who log in as they do here.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT", type=click.IntRange(1, 65535))
@click.option("--prepare-only", is_flag=True, help="Make the drill's home and people, and stop: "
                                                   "play it later with `crisiswatch drill run`.")
@with_home
def start(settings: Settings, scenario, speed, orgs, host, port, prepare_only):
    """Make a drill of SCENARIO (a shipped name such as binhai_typhoon, or a file) in a home
    of its own, print its people, and play it live until Ctrl-C: its director starts,
    pauses and ends it and sends the injects on /drill/ (the review UI at --host:--port)."""
    from desk.scenario import SCENARIOS_DIR, ScenarioError, load

    path = Path(scenario)
    if path.suffix != ".toml" and not path.exists():  # a shipped one, by name (as ``load`` finds it)
        path = SCENARIOS_DIR / f"{scenario}.toml"
    try:
        chosen = load(path)
    except (OSError, ScenarioError) as err:
        fail(f"scenario {scenario}: {err}")
    names = list(dict.fromkeys(name.strip() for name in orgs.split(",") if name.strip()))
    folder = prepare(settings, path, chosen, speed, names)
    click.echo(f"drill of {chosen.name} at {speed:g}x prepared in {folder}")
    if not prepare_only:
        _play(Settings.load(folder), chosen, speed, host, port)


@drill.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, envvar="CRISISWATCH_PORT", type=click.IntRange(1, 65535))
@with_home
def run(settings: Settings, name, host, port):
    """Play a drill made before (NAME: its folder under drills/; default: the newest) live,
    from where its clock stands, until Ctrl-C."""
    drill_settings = _drill(settings, name)
    replay, scenario = _replay_of(drill_settings)
    _play(drill_settings, scenario, replay.speed, host, port)


@drill.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per drill.")
@with_home
def status(settings: Settings, as_json):
    """The home's drills: each one's scenario, speed, state, scenario time reached and report."""
    found = [_status(folder) for folder in _folders(settings)]
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo(f"no drills in {settings.home / DRILLS}")
    for row in found:
        report = f", report {row['report_id']}" if row["report_id"] else ""
        click.echo(f"{row['name']}: {row['scenario']} at {row['speed']:g}x, {row['state']}, "
                   f"{row['offset_s'] / 3600:.1f} h of {row['length_s'] / 3600:.1f} h{report}")


@drill.command(context_settings=CONTEXT)
@click.argument("name", required=False)
@click.option("--format", "form", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file (default: print it; a Word file or PDF only into a pipe).")
@click.option("--json", "as_json", is_flag=True, help="Print the report's figures as one JSON object instead.")
@with_home
def report(settings: Settings, name, form, out, as_json):
    """Make the drill report of a drill (NAME: its folder under drills/; default: the
    newest), keep it on the drill's reports page, and write it."""
    if not as_json:
        _check_output(form, out)
    from desk import drill_report
    from desk.clocks import load_clocks
    from desk.database import open_sessions
    from desk.reports import render

    drill_settings = _drill(settings, name)
    store = _store(drill_settings)
    try:
        with open_sessions(store.engine, drill_settings.home).begin() as session:
            replay, scenario = _replay_of(drill_settings, session)
            made = drill_report.make_report(session, store, replay, scenario,
                                            load_clocks(drill_settings.home / "clocks.toml"))
            kept = drill_report.keep(session, replay, made, made_by=CLI_ACTOR)
            kept_id = kept.id
    finally:
        store.close()
    if as_json:
        emit_json(made.as_dict())
        return
    made_file = render(made, form, china_map=_china_map())
    if not out:
        click.echo(made_file.decode("utf-8") if form == "html" else made_file, nl=form == "html")
        return
    Path(out).write_bytes(made_file)
    click.echo(f"{made.title}: report {kept_id} of {drill_settings.home.name}, written to {out}")


# -- preparing a drill's home -------------------------------------------------------------------


def prepare(settings: Settings, path: Path, scenario, speed: float, org_names: list[str]) -> Path:
    """The drill's home of ``scenario`` (read from ``path``), ready for its director: see
    the module's docstring. The scenario's copy comes last: a folder with one is a drill."""
    from desk import accounts, replay
    from desk.clocks import scaled_clocks, unscaled_clocks
    from desk.database import open_sessions

    own_home_only()
    copied = _organisations_of(settings, org_names)
    people = {replay.DIRECTOR[0], *(f"{side.key}_{suffix}" for side in scenario.organisations
                                    for suffix, *_ in replay.SIDE_PEOPLE)}
    clash = sorted(people & {user.username for _, users in copied for user in users})
    if clash:
        fail(f"--orgs: the drill's own people are called {', '.join(clash)} too: take part without "
             f"{'that user' if len(clash) == 1 else 'those users'}, or rename them")
    folder = settings.home / DRILLS / f"{scenario.name}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    if folder.exists():
        fail(f"{folder} exists already: start the next drill a second later")
    drill_settings = Settings.load(folder).ensure_home()
    if settings.models_dir.is_dir():  # the home's trained models, not a training per drill
        shutil.copytree(settings.models_dir, drill_settings.models_dir, dirs_exist_ok=True)
    (folder / "clocks.toml").write_text(scaled_clocks(unscaled_clocks(settings.home / "clocks.toml"), speed),
                                        encoding="utf-8")
    store = _store(drill_settings)
    try:
        with open_sessions(store.engine, folder).begin() as session:
            created = replay.seed_organisations(session, scenario)
            org_ids = []
            for org, users in copied:
                mine = accounts.find_organisation(session, org.name) or accounts.create_organisation(  # or a side's
                    session, org.name, org.kind, org.level, actor=CLI_ACTOR)
                for user in users:
                    accounts.create_user(session, user.username, user.display_name, secrets.token_urlsafe(16), mine,
                                         user.roles, actor=CLI_ACTOR).password_hash = user.password_hash
                org_ids.append(mine.id)
            replay.start(session, scenario, "drill", speed, org_ids=org_ids, actor=CLI_ACTOR)
            sides = list(dict.fromkeys([side.name for side in scenario.organisations] + [org.name for org, _ in copied]))
    finally:
        store.close()
    drill_settings.channels_file.write_text("".join(
        f'[[organisation]]\nname = "{name}"\n[[organisation.channel]]\nname = "archive"\nkind = "file"\n'
        f'folder = "exports/{name}"\n\n' for name in sides), encoding="utf-8")
    shutil.copyfile(path, folder / "scenario.toml")
    click.echo("drill users (passwords are shown only now):")
    for username, password, org, roles in created:
        click.echo(f"  {username:18} password {password}  {org} ({', '.join(roles)})")
    for org, users in copied:
        click.echo(f"  {org.name}: {', '.join(user.username for user in users)} log in with their own passwords")
    return folder


def own_home_only() -> None:
    """Refuse where the settings name a database or index of their own: a drill's home
    (and its UI and jobs, which read the same variables) would use them instead of its own."""
    if os.environ.get("CRISISWATCH_DATABASE_URL") or os.environ.get("CRISISWATCH_INDEX", "embedded") != "embedded":
        fail("a drill runs in a home of its own, on SQLite and the embedded index: unset CRISISWATCH_DATABASE_URL "
             "and CRISISWATCH_INDEX for `crisiswatch drill`")


def _organisations_of(settings: Settings, names: list[str]) -> list[tuple]:
    """Each named organisation of the home with its active users (detached rows)."""
    if not names:
        return []
    from desk import accounts
    from desk.database import open_sessions

    store = _store(settings)
    try:
        with open_sessions(store.engine, settings.home)(expire_on_commit=False) as session:
            found = []
            for name in names:
                org = accounts.find_organisation(session, name)
                if org is None:
                    fail(f"no organisation {name!r} in {settings.home} (see crisiswatch org list)")
                found.append((org, [user for user in accounts.list_users(session, org) if user.active]))
            session.expunge_all()
            return found
    finally:
        store.close()


# -- finding and playing drills -------------------------------------------------------------------


def _play(drill_settings: Settings, scenario, speed: float, host: str, port: int) -> None:
    from crisiswatch.live import run_live
    from crisiswatch.server import port_in_use

    if port_in_use(host, port):
        fail(f"port {port} on {host} is in use: choose another with --port N")
    click.echo(f"director: log in as director on http://{host}:{port}/drill/ to start the drill")
    stop_on_interrupt()
    run_live(drill_settings, scenario, "drill", speed, host, port)


def _folders(settings: Settings) -> list[Path]:
    """The home's drills, oldest first (their names end in the time they were made)."""
    own_home_only()
    root = settings.home / DRILLS
    return sorted((path for path in root.iterdir() if (path / "scenario.toml").is_file()),
                  key=lambda path: path.name.rsplit("-", 2)[-2:]) if root.is_dir() else []


def _drill(settings: Settings, name: str | None) -> Settings:
    folders = _folders(settings)
    chosen = [folder for folder in folders if folder.name == name] if name else folders[-1:]
    if not chosen:
        fail(f"no drill {name} in {settings.home / DRILLS}" if name else
             f"no drills in {settings.home / DRILLS}: make one with crisiswatch drill start SCENARIO")
    return Settings.load(chosen[0])


def _store(settings: Settings):
    from crisiswatch.stages import open_store

    return open_store(settings)


def _replay_of(drill_settings: Settings, session=None):
    """The drill home's replay and its scenario (read from the copy in the home)."""
    from desk import replay
    from desk.database import open_sessions
    from desk.scenario import load

    scenario = load(drill_settings.home / "scenario.toml")
    if session is not None:
        return replay.current(session), scenario
    store = _store(drill_settings)
    try:
        with open_sessions(store.engine, drill_settings.home)(expire_on_commit=False) as opened:
            found = replay.current(opened)
            opened.expunge_all()
            return found, scenario
    finally:
        store.close()


def _status(folder: Path) -> dict:
    from desk.database import open_sessions

    drill_settings = Settings.load(folder)
    store = _store(drill_settings)
    try:
        with open_sessions(store.engine, folder)() as session:
            found, scenario = _replay_of(drill_settings, session)
            now = datetime.now(timezone.utc)
            return {"name": folder.name, "home": str(folder), "scenario": scenario.name, "speed": found.speed,
                    "state": str(found.state), "offset_s": found.offset_at(now).total_seconds(),
                    "length_s": scenario.length.total_seconds(), "report_id": found.report_id}
    finally:
        store.close()
