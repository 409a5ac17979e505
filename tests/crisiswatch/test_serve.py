"""`crisiswatch serve` under gunicorn (graceful restart, access log), `bench load`, and
training kept apart from serving: real processes on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED

from crisiswatch import publishing
from crisiswatch.demo import TRAINING_NICENESS, train_in_background
from crisiswatch.schedule import start_scheduler
from nlp.models import is_current
from tests.conftest import DATA, REPO, crisiswatch, csrf_token, free_port, msra_slice, need


def start_serve(home, *args: str, **env: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "crisiswatch", "serve", "--port", str(port), *args],
                              cwd=REPO, env={**os.environ, "CRISISWATCH_HOME": str(home.home), **env},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            healthz(base)
            return server, base
        except OSError:
            assert server.poll() is None, server.stdout.read()
            time.sleep(0.1)
    server.kill()
    pytest.fail("crisiswatch serve did not answer")


def healthz(base: str) -> float:
    """GET /healthz; the seconds it took."""
    start = time.perf_counter()
    with urllib.request.urlopen(f"{base}/healthz", timeout=30) as response:
        assert response.status == 200 and json.load(response)["status"] == "ok"
    return time.perf_counter() - start


@pytest.mark.slow
def workers_of(server: subprocess.Popen) -> set[int]:
    """The process ids of the gunicorn master's worker processes."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return {int(pid) for pid in children.read_text().split()} if children.exists() else set()


@pytest.mark.slow
def test_serve_writes_an_access_log_and_restarts_its_workers_on_hup(home):
    access = home.home / "logs" / "access.log"
    server, base = start_serve(home, "--workers", "2", "--access-log", str(access))
    try:
        healthz(base)
        old_workers = workers_of(server)
        server.send_signal(signal.SIGHUP)  # graceful: new workers start before the old ones go
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            healthz(base)  # answered throughout
            time.sleep(0.1)
            restarted = len(workers_of(server)) == 2 and not workers_of(server) & old_workers
            if restarted and access.read_text().count("GET /healthz") >= 20:
                break
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "review UI on " + base in output and "Using worker: crisiswatch.server.DrainingThreadWorker" in output
    assert output.count("Booting worker") >= 4, output  # two, then two more after SIGHUP
    assert "Handling signal: hup" in output
    assert '"GET /healthz HTTP/1.1" 200' in access.read_text()


@pytest.mark.slow
def test_the_workers_share_the_count_of_failed_logins(home):
    """Each worker counting by itself would let an address try the limit once per worker."""
    server, base = start_serve(home, "--workers", "2", CRISISWATCH_LOGIN_LIMIT="3 per 15 minutes")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    try:
        token = csrf_token(browser.open(f"{base}/login", timeout=30).read().decode("utf-8"))
        statuses = []
        for attempt in range(12):  # a connection each: the two workers take turns as they accept
            form = urllib.parse.urlencode({"csrf_token": token, "username": f"guess{attempt}", "password": "x"})
            try:
                statuses.append(browser.open(f"{base}/login", data=form.encode(), timeout=30).status)
            except urllib.error.HTTPError as refused:
                statuses.append(refused.code)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert statuses == [401] * 3 + [429] * 9, statuses


@pytest.mark.slow
def test_bench_load_reports_its_figures_without_errors(home):
    need(DATA / "weibo_covid_2020")
    result = json.loads(crisiswatch("bench", "load", "--users", "2", "--seconds", "3", "--limit", "2000", "--json",
                                    home=home).stdout)
    assert {"requests", "errors", "requests_per_s", "p50_ms", "p95_ms", "p99_ms"} <= set(result)
    assert result["errors"] == 0 and result["requests"] >= 2, result
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]


@pytest.mark.slow
def test_training_runs_apart_while_the_ui_answers_and_the_publisher_runs(home, tmp_path):
    need(DATA / "ner" / "msra_char_bio.zip")
    server, base = start_serve(home, "--workers", "1")
    scheduler = start_scheduler(home, {})  # the publisher alone
    published = []
    scheduler.add_listener(lambda event: published.append(time.monotonic()) if event.job_id == publishing.JOB_ID
                           else None, EVENT_JOB_EXECUTED)
    try:
        [training] = train_in_background(home, ["ner"], data_file=msra_slice(tmp_path, sentences=1000))
        assert training.pid != os.getpid()
        own = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, training.pid) == min(own + TRAINING_NICENESS, 19)
        answered = []
        while training.poll() is None:
            answered.append(healthz(base))
            time.sleep(0.2)
        trained = time.monotonic()
    finally:
        scheduler.shutdown()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert training.returncode == 0, (home.home / "logs" / "train-ner.log").read_text()
    assert is_current(home.models_dir, "ner")  # where the next tag run picks it up
    assert len(answered) >= 5 and max(answered) < 2, answered
    assert published and published[0] < trained  # the publisher ran while the model trained


@pytest.mark.slow
def test_serve_on_a_port_in_use_says_so_in_one_line(home):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = crisiswatch("serve", "--port", str(port), home=home, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"error: port {port} on 127.0.0.1 is in use (another server?): stop it, "
                                     "or choose another port with --port N")


@pytest.mark.slow
def test_serve_does_not_load_the_demo_to_check_its_port(home):
    """The demo's module brings scikit-learn and the scheduler (over a second): serve needs neither."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "crisiswatch", "serve", "--port", str(port)],
                                 cwd=REPO, env={**os.environ, "CRISISWATCH_HOME": str(home.home)},
                                 capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is in use" in result.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "crisiswatch.server" in loaded and "crisiswatch.demo" not in loaded


def test_a_damaged_count_of_failed_logins_is_set_aside_and_started_afresh(home):
    """The file holds 15 minutes of failed logins: damaged, it must not stop every login (a 500)
    nor a worker from starting (gunicorn then shuts the whole server down)."""
    from review_ui import create_app
    from tests.conftest import add_user, log_in

    counts = home.home / "login-limits.db"
    app = create_app(home)
    password = add_user(app, "analyst-damaged")
    assert log_in(app.test_client(), "analyst-damaged", "wrong").status_code == 401
    counts.write_bytes(b"\x07 not a database " * 1000)
    assert log_in(app.test_client(), "analyst-damaged", "wrong").status_code == 401
    assert log_in(app.test_client(), "analyst-damaged", password).status_code == 303
    assert (home.home / "login-limits.db.damaged").read_bytes().startswith(b"\x07 not a database")
    counts.write_bytes(b"\x07 not a database " * 1000)
    assert log_in(create_app(home).test_client(), "analyst-damaged", "wrong").status_code == 401


def test_successful_logins_do_not_count_against_the_address_limit(home):
    """`bench load` logs in 50 users from one address: only failures count (30 per 15 minutes)."""
    from review_ui import create_app
    from tests.conftest import add_user, log_in

    app = create_app(home)
    password = add_user(app, "analyst-many")
    assert all(log_in(app.test_client(), "analyst-many", password).status_code == 303 for _ in range(35))
    assert log_in(app.test_client(), "analyst-many", "wrong").status_code == 401


def test_the_help_describes_todays_ui():
    from click.testing import CliRunner

    from crisiswatch.cli import main

    serve = CliRunner().invoke(main, ["serve", "--help"]).output
    assert all(part in serve for part in ("/incidents/", "/stories/", "/admin", "/api/search", "gunicorn", "SIGHUP",
                                          "--workers", "--threads", "--access-log"))
    demo = CliRunner().invoke(main, ["demo", "--help"]).output
    assert all(part in demo for part in ("live", "NER", "lower priority", "their users", "--speed", "pauses"))


@pytest.mark.slow
def test_a_count_of_failed_logins_that_cannot_be_written_lets_logins_through_and_says_so(tmp_path, caplog):
    """A read-only disk under the count (or a store that is down) made every login a 500.
    As Flask-Limiter's swallow_errors does, the limit is then skipped with an error in the
    log: the per-account lock-out after 5 failures still holds."""
    from core.settings import Settings
    from review_ui import create_app
    from tests.conftest import add_user, log_in

    disk = tmp_path / "counts"
    disk.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot mount a small filesystem here: {err}")
    try:
        home = Settings.load(home=tmp_path / "home", login_limit_storage=f"crisiswatch+sqlite://{disk / 'counts.db'}")
        app = create_app(home.ensure_home())
        password = add_user(app, "analyst-ro")
        assert log_in(app.test_client(), "analyst-ro", "wrong").status_code == 401
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
        assert log_in(app.test_client(), "analyst-ro", "wrong").status_code == 401
        assert log_in(app.test_client(), "analyst-ro", password).status_code == 303
        assert any("rate limit" in record.getMessage().lower() or "readonly" in record.getMessage().lower()
                   for record in caplog.records if record.levelname in ("ERROR", "CRITICAL"))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
