"""Shared fixtures: temporary homes, real SQLite and PostgreSQL stores, trained models."""

from __future__ import annotations

import glob
import gzip
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.settings import Settings
from core.store import Store

DATA = Settings.load("/nonexistent").data_dir
FIXTURES = DATA.parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def stored_posts(home: Settings) -> dict[str, dict]:
    """Every post in a home's store, by platform id."""
    store = Store(home.database_url)
    try:
        return {post["platform_id"]: post for post in store.get_posts(range(1, 10_000)).values()}
    finally:
        store.close()


def saved_checkpoints(home: Settings, job: str) -> dict:
    store = Store(home.database_url)
    try:
        return store.checkpoints(job)
    finally:
        store.close()


@pytest.fixture
def home(tmp_path) -> Settings:
    return Settings.load(tmp_path / "home").ensure_home()


@pytest.fixture
def ced_slice(tmp_path) -> Path:
    """The first 40 CED posts (with their reposts), gzip-compressed like the original."""
    source = need(DATA / "rumor" / "ced_train.jsonl.gz")
    target = tmp_path / "ced40.jsonl.gz"
    with gzip.open(source, "rb") as src, gzip.open(target, "wb") as dst:
        dst.writelines(itertools.islice(src, 40))
    return target


@pytest.fixture
def covid_day() -> Path:
    """A real day of the Weibo corpus: GB18030 CSV, about 10,600 posts."""
    return need(DATA / "weibo_covid_2020" / "2020-01-21.csv.gz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(server: subprocess.Popen, probe, errors, what: str) -> None:
    """Call ``probe`` until it stops raising ``errors``; fail if the server never answers."""
    for _ in range(200):
        try:
            probe()
            return
        except errors:
            time.sleep(0.1)
    os.killpg(server.pid, signal.SIGKILL)
    pytest.fail(f"{what} did not start")


def stop(server: subprocess.Popen, folder: Path) -> None:
    """Stop a server started with ``start_new_session=True``, children included
    (noida-db's command is a wrapper around the emulator's own process)."""
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    shutil.rmtree(folder, ignore_errors=True)


# -- PostgreSQL: a real server on loopback, started for the session -----------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_server():
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; `make test` installs it (scripts/install-system-deps.sh)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # not under pytest's tmp folder: its parents are private to root, and postgres
    # runs as its own user
    root = Path(tempfile.mkdtemp(prefix="crisiswatch-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, capture_output=True)
    server = subprocess.Popen(
        [*as_user, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    import psycopg

    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    wait_for(server, lambda: psycopg.connect(url, connect_timeout=1).close(), psycopg.OperationalError, "PostgreSQL")
    yield port
    from desk import audit

    audit.finish_waiting()  # while the server still runs: the process would write them at exit
    stop(server, root)


@pytest.fixture
def postgres_url(postgres_server, request):
    import psycopg

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The store of record on each database it supports."""
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    yield store
    store.close()


# -- models trained once per session from the shared data ------------------------------


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory) -> Path:
    from nlp.datasets import TRAINING_FILES
    from nlp.models import CLASSIFIER_TASKS
    from nlp.train import train_task

    for task in (*CLASSIFIER_TASKS, "ner"):
        need(DATA / TRAINING_FILES[task])
    models = tmp_path_factory.mktemp("models")
    for task in CLASSIFIER_TASKS:
        train_task(task, DATA, models, progress=lambda _m: None)
    # NER on the full MSRA file takes minutes: the tests train it on a slice (the README
    # and `crisiswatch evaluate ner` give the full model's figures).
    train_task("ner", DATA, models, progress=lambda _m: None, data_file=msra_slice(tmp_path_factory.mktemp("msra")))
    return models


def msra_slice(folder: Path, sentences: int = 3000) -> Path:
    """The first sentences of the MSRA NER file, in its own format (one character per line)."""
    from nlp.datasets import read_char_bio

    path = folder / "msra_slice.txt"
    chosen = read_char_bio(DATA / "ner" / "msra_char_bio.zip")[:sentences]
    path.write_text("\n\n".join("\n".join(f"{c}\t{t}" for c, t in zip(text, tags)) for text, tags in chosen) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def home_with_models(home, trained_models) -> Settings:
    shutil.copytree(trained_models, home.models_dir, dirs_exist_ok=True)
    return home


def crisiswatch(*args: str, home: Settings, timeout: float = 300, check: bool = True, **kwargs):
    """Run the real command line in a child process."""
    env = {**os.environ, "CRISISWATCH_HOME": str(home.home), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "crisiswatch", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"crisiswatch {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def cli(*args: str, home: Settings, check: bool = True, input: str | None = None):
    """Run the command line in this process, with click's CliRunner, where a child process
    is not the point of the test: a click ``Result`` (``exit_code``, and ``stdout`` and
    ``stderr`` apart, as a child's are). An exception the command does not handle fails the
    test with its traceback."""
    from click.testing import CliRunner

    from crisiswatch.cli import main

    before = _process_state()
    result = CliRunner().invoke(main, args, input=input, env={"CRISISWATCH_HOME": str(home.home)},
                                catch_exceptions=False)
    assert _process_state() == before, (f"crisiswatch {args[0]} changed this process's signal handlers, environment "
                                        "or logging, which would leak into later tests: run it with crisiswatch()")
    if check and result.exit_code != 0:
        raise AssertionError(f"crisiswatch {' '.join(args)} failed ({result.exit_code}):\n{result.stderr[-3000:]}")
    return result


def _process_state() -> tuple:
    """What a command run in-process must leave as it found it (the settings' variables: a
    library may add its own once, when it is first imported)."""
    root = logging.getLogger()
    settings = {name: value for name, value in os.environ.items() if name.startswith("CRISISWATCH_")}
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), settings, root.level, list(root.handlers)


# -- Elasticsearch: the noida-db emulator on loopback, or a real cluster from ES_URL -------


SERVER_FIXTURES = {"postgres_server", "postgres_url", "noida_url"}
SERVER_PARAMS = {"postgresql", "elasticsearch-emulator", "elasticsearch-real"}  # of the store and make_index fixtures


def pytest_collection_modifyitems(items):
    """A test that runs on the PostgreSQL server or the Elasticsearch emulator starts a
    server process, so it is ``slow`` wherever it is (the SQLite and embedded halves of a
    parametrized test are not); tests that start other processes carry the mark themselves."""
    for item in items:
        params = getattr(item, "callspec", None)
        values = set(map(str, params.params.values())) if params else set()
        if SERVER_FIXTURES & set(item.fixturenames) or SERVER_PARAMS & values:
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config):
    real = os.environ.get("ES_URL")
    return [
        "elasticsearch contract tests: noida-db 0.2.3, an EMULATOR of the Elasticsearch REST API (not a real cluster)"
        + (f"; and a real cluster at {real}" if real else "; set ES_URL to also run them against a real cluster")
    ]


@pytest.fixture(scope="session")
def noida_url():
    binary = shutil.which("noida-db") or str(Path(sys.executable).with_name("noida-db"))
    if not Path(binary).exists():
        pytest.fail("noida-db is not installed; `make test` installs it (the test extra)")
    data = Path(tempfile.mkdtemp(prefix="crisiswatch-noida-"))
    port = free_port()
    server = subprocess.Popen(
        [binary, "start", "--only", "elasticsearch", "--host", "127.0.0.1", "--elasticsearch-port", str(port),
         "--data-dir", str(data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(server, lambda: urllib.request.urlopen(url, timeout=1).close(), OSError, "the noida-db emulator")
    yield url
    stop(server, data)


BACKENDS = ["embedded", "elasticsearch-emulator"] + (["elasticsearch-real"] if os.environ.get("ES_URL") else [])


@pytest.fixture(params=BACKENDS)
def make_index(request, tmp_path):
    """A factory of fresh indexes of one backend (each call: the same index again)."""
    from indexes.elastic import ElasticIndex
    from indexes.embedded import EmbeddedIndex

    made = []
    if request.param == "embedded":
        def factory():
            return EmbeddedIndex(tmp_path / "index")
    else:
        url = os.environ["ES_URL"] if request.param == "elasticsearch-real" else request.getfixturevalue("noida_url")
        alias = f"crisiswatch-test-{os.getpid()}-{len(os.listdir(tmp_path))}-{request.node.name.lower()}"[:80]
        alias = "".join(c if c.isalnum() or c == "-" else "-" for c in alias)

        def factory():
            index = ElasticIndex(url, alias=alias)
            made.append(index)
            return index
    yield factory
    if made:
        made[0].delete_all()


# -- logging in to the review UI ----------------------------------------------------------


@pytest.fixture
def app(tmp_path):
    """The review UI over an empty home."""
    from review_ui import create_app

    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    return create_app(settings)


def html(response) -> str:
    return response.get_data(as_text=True)


@contextmanager
def statements_with(engine, word: str):
    """The SQL statements containing ``word`` that ``engine`` runs inside the block."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if word in statement.lower():
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


TEST_ORG = "测试市人民政府"


def add_user(app, username: str, roles=("analyst",), org: str = TEST_ORG) -> str:
    """Create a user (and their organisation if need be) in the app's home database;
    return the password."""
    from desk import accounts

    password = f"pw-{username}-0123456789"
    with app.extensions["crisiswatch"].sessions.begin() as session:
        found = accounts.find_organisation(session, org) or accounts.create_organisation(session, org, "government",
                                                                                          "city")
        accounts.create_user(session, username, username, password, found, roles)
    return password


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, username: str, password: str):
    """Log in through the real login form (its CSRF token included); the POST's response."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password})


def logged_in_client(app, roles=("analyst",)):
    """A fresh test client logged in as a new user with ``roles``."""
    username = f"{'-'.join(roles)}-{next(_users)}"
    client = app.test_client()
    assert log_in(client, username, add_user(app, username, roles)).status_code == 303
    return client


_users = itertools.count(1)
