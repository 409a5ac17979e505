"""``crisiswatch drill``: a drill is prepared in a home of its own under the home's drills/
(its scenario's people, an organisation of the home with its logins, the home's models,
the clocks scaled by the speed, its replay ready for the director), listed by ``drill status`` and scored by
``drill report``, while the home itself stays as it was."""

from __future__ import annotations

import json

from core.settings import Settings
from core.store import Store
from crisiswatch.live import stop_replay
from desk import accounts, replay as replays
from desk.clocks import load_clocks, scaled_clocks
from desk.database import open_sessions
from desk.scenario import SCENARIOS_DIR, load
from desk.states import ReplayState
from desk.tables import Organisation
from tests.conftest import cli

PRESS_OFFICE = "海口供电局"
PASSWORD = "pw-press-0123456789"


def sessions_of(settings: Settings):
    store = Store(settings.database_url)
    return store, open_sessions(store.engine, settings.home)


def test_a_drill_is_prepared_in_a_home_of_its_own(home):
    store, sessions = sessions_of(home)
    with sessions.begin() as session:
        office = accounts.create_organisation(session, PRESS_OFFICE, "enterprise", "branch")
        accounts.create_user(session, "press", "新闻发言人", PASSWORD, office, ["drafter", "approver"])
    store.close()
    (home.models_dir / "rumor").mkdir(parents=True)
    (home.models_dir / "rumor" / "card.json").write_text('{"version": "trained-here"}', encoding="utf-8")

    made = cli("drill", "start", "binhai_typhoon", "--speed", "60", "--orgs", PRESS_OFFICE, "--prepare-only",
               home=home)
    (folder,) = (home.home / "drills").iterdir()
    assert folder.name.startswith("binhai_typhoon-") and str(folder) in made.stdout
    assert "director" in made.stdout and "grid_drafter" in made.stdout and "press log in with their own" in made.stdout
    assert (folder / "scenario.toml").read_bytes() == (SCENARIOS_DIR / "binhai_typhoon.toml").read_bytes()
    assert [(clock.name, clock.hours * 60) for clock in load_clocks(folder / "clocks.toml")] == [
        ("authoritative_information", 5), ("press_conference", 24)]
    assert PRESS_OFFICE in (folder / "channels.toml").read_text(encoding="utf-8")
    assert "trained-here" in (folder / "models" / "rumor" / "card.json").read_text(encoding="utf-8")  # not trained again

    drill = Settings.load(folder)
    store, sessions = sessions_of(drill)
    with sessions() as session:
        played = replays.current(session)
        assert (played.kind, played.speed, played.state) == ("drill", 60, ReplayState.READY)
        office = accounts.find_organisation(session, PRESS_OFFICE)
        assert office.id in played.org_ids and {"滨海供电局", "滨海市人民政府新闻办公室"} <= {
            org.name for org in session.query(Organisation)}
        assert accounts.authenticate(session, "press", PASSWORD).org_id == office.id  # their own login
    store.close()
    store, sessions = sessions_of(home)
    with sessions() as session:  # the home itself plays nothing and got no one
        assert replays.current(session) is None and accounts.find_user(session, "director") is None
    store.close()

    (listed,) = json.loads(cli("drill", "status", "--json", home=home).stdout)
    assert (listed["name"], listed["state"], listed["speed"], listed["offset_s"]) == (folder.name, "ready", 60, 0)
    figures = json.loads(cli("drill", "report", "--json", home=home).stdout)
    assert figures["kind"] == "drill" and [rumor["post"] for rumor in figures["rumors"]["rumors"]] == ["w398"]
    assert json.loads(cli("drill", "status", "--json", home=home).stdout)[0]["report_id"] == 1
    page = cli("drill", "report", folder.name, home=home).stdout
    assert "演练报告：台风“海鸥”致滨海市多区停电" in page


def test_a_drill_that_cannot_be_made_leaves_nothing(home):
    wrong = cli("drill", "start", "binhai_typhoon", "--orgs", "没有这个单位", "--prepare-only", home=home, check=False)
    assert wrong.exit_code == 1 and "no organisation '没有这个单位'" in wrong.stderr
    unknown = cli("drill", "start", "no_such_scenario", "--prepare-only", home=home, check=False)
    assert unknown.exit_code == 1 and "scenario no_such_scenario" in unknown.stderr
    assert not (home.home / "drills").exists()
    assert cli("drill", "status", home=home).stdout.startswith("no drills in")
    none = cli("drill", "report", home=home, check=False)
    assert none.exit_code == 1 and "crisiswatch drill start SCENARIO" in none.stderr
    named = cli("drill", "run", "binhai_typhoon-20260725-220000", home=home, check=False)
    assert named.exit_code == 1 and "no drill binhai_typhoon-20260725-220000 in" in named.stderr


def test_a_speed_the_clock_cannot_run_on_is_a_usage_error(home):
    """nan passes click's ranges, and a demo's 1e300 or inf overflowed its clock at the first request."""
    for command in (("drill", "start", "binhai_typhoon", "--prepare-only"), ("demo", "--no-sample")):
        for speed in ("nan", "inf", "1e300", "0", "-1", "fast"):
            refused = cli(*command, "--speed", speed, home=home, check=False)
            assert refused.exit_code == 2 and "--speed" in refused.stderr, (command, speed)
    assert not (home.home / "drills").exists()


def test_a_drill_made_from_a_demo_home_scales_the_shipped_clocks_once(home):
    """A demo's home holds the clocks at the demo's speed: the drill's are the shipped ones at its own."""
    (home.home / "clocks.toml").write_text(scaled_clocks(load_clocks(), 48), encoding="utf-8")
    cli("drill", "start", "binhai_typhoon", "--speed", "600", "--prepare-only", home=home)
    (folder,) = (home.home / "drills").iterdir()
    assert [(clock.name, clock.hours * 600) for clock in load_clocks(folder / "clocks.toml")] == [
        ("authoritative_information", 5), ("press_conference", 24)]


def test_a_side_of_the_scenario_named_in_orgs_takes_its_part_with_its_people(home):
    """The home's own 滨海供电局, named (twice) in --orgs, plays that side with its logins; a user
    called as one of the drill's own people is refused before anything is made."""
    store, sessions = sessions_of(home)
    with sessions.begin() as session:
        grid = accounts.create_organisation(session, "滨海供电局", "enterprise", "company")
        accounts.create_user(session, "press", "新闻发言人", PASSWORD, grid, ["drafter"])
    store.close()
    cli("drill", "start", "binhai_typhoon", "--orgs", "滨海供电局,滨海供电局", "--prepare-only", home=home)
    (folder,) = (home.home / "drills").iterdir()
    assert (folder / "channels.toml").read_text(encoding="utf-8").count('name = "滨海供电局"') == 1
    store, sessions = sessions_of(Settings.load(folder))
    with sessions() as session:
        side = accounts.find_organisation(session, "滨海供电局")
        assert accounts.authenticate(session, "press", PASSWORD).org_id == side.id
        assert side.id in replays.current(session).org_ids
    store.close()

    store, sessions = sessions_of(home)
    with sessions.begin() as session:
        accounts.create_user(session, "grid_drafter", "起草人", PASSWORD, accounts.find_organisation(session, "滨海供电局"),
                             ["drafter"])
    store.close()
    refused = cli("drill", "start", "binhai_typhoon", "--orgs", "滨海供电局", "--prepare-only", home=home, check=False)
    assert refused.exit_code == 1 and "the drill's own people are called grid_drafter too" in refused.stderr
    assert list((home.home / "drills").iterdir()) == [folder]


def test_no_drill_command_plays_or_reads_a_drill_in_the_database_the_settings_name(home, tmp_path, monkeypatch):
    """drill status, run and report of a drill made before refuse, as start does, while
    CRISISWATCH_DATABASE_URL names another database: they opened (and migrated) that one."""
    cli("drill", "start", "binhai_typhoon", "--prepare-only", home=home)
    other = tmp_path / "real.db"
    monkeypatch.setenv("CRISISWATCH_DATABASE_URL", f"sqlite:///{other}")
    for command in (("status",), ("run",), ("report", "--json"), ("start", "binhai_typhoon", "--prepare-only")):
        refused = cli("drill", *command, home=home, check=False)
        assert refused.exit_code == 1 and "a drill runs in a home of its own" in refused.stderr, command
    assert not other.exists()


def test_a_live_run_stopped_pauses_a_running_drill_and_says_when_the_director_ended_it(tmp_path):
    settings = Settings.load(tmp_path / "drill", database_url=f"sqlite:///{tmp_path / 'drill' / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    store, sessions = sessions_of(settings)
    with sessions() as session:
        replays.seed_organisations(session, load("binhai_typhoon"))
        played = replays.start(session, load("binhai_typhoon"), "drill", 60, actor="director")
        replays.run(session, played, actor="director")
        session.commit()
    assert stop_replay(sessions) is False  # paused: it goes on at the next start
    with sessions() as session:
        played = replays.current(session)
        assert played.state == ReplayState.PAUSED
        replays.end(session, played, actor="director")
        session.commit()
    assert stop_replay(sessions) is True  # the console says "the drill has ended"
    store.close()
