"""kill -9 of any stage at any moment, then a rerun: every post stored, tagged, indexed once."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from core.store import Store
from crisiswatch.importer import import_files
from indexes.embedded import EmbeddedIndex
from tests.conftest import DATA, REPO, need

pytestmark = pytest.mark.slow  # every test here starts a process or a server

DAYS = ["2020-01-24.csv.gz", "2020-01-25.csv.gz", "2020-01-27.csv.gz"]


def start(home, *args):
    env = {**os.environ, "CRISISWATCH_HOME": str(home.home)}
    return subprocess.Popen([sys.executable, "-m", "crisiswatch", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def count(home, sql):
    with sqlite3.connect(home.home / "crisiswatch.db", timeout=30) as db:
        return db.execute(sql).fetchone()[0]


def kill_midway(process, home, sql, total):
    """Kill the process with SIGKILL once the database shows part, not all, of its work."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the stage finished before it could be killed: {process.stderr.read()[-2000:]}")
        try:
            done = count(home, sql)
        except sqlite3.OperationalError:
            done = 0
        if 0 < done < total:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return done
        time.sleep(0.05)
    pytest.fail("the stage made no progress")


def rerun(home, *args):
    process = start(home, *args)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]


def test_every_stage_survives_kill_9(home_with_models, tmp_path):
    home = home_with_models
    files = [need(DATA / "weibo_covid_2020" / day) for day in DAYS]
    reference = Store(f"sqlite:///{tmp_path / 'reference.db'}")
    expected = import_files(reference, files).imported  # the same import, never killed

    importing = start(home, "import", *map(str, files))
    partial = kill_midway(importing, home, "SELECT count(*) FROM posts", expected)
    rerun(home, "import", *map(str, files))
    assert count(home, "SELECT count(*) FROM posts") == expected > partial
    assert count(home, "SELECT count(DISTINCT platform || ':' || platform_id) FROM posts") == expected

    tagging = start(home, "tag", "--batch-size", "500")
    kill_midway(tagging, home, "SELECT count(*) FROM tags", expected)
    rerun(home, "tag")
    assert count(home, "SELECT count(*) FROM tags") == expected

    indexing = start(home, "index")
    kill_midway(indexing, home, "SELECT count(*) FROM posts WHERE indexed_rev = rev", expected)
    rerun(home, "index")
    assert count(home, "SELECT count(*) FROM posts WHERE indexed_rev IS NOT rev") == 0
    index = EmbeddedIndex(home.index_dir)
    assert index.num_docs() == expected  # a post indexed twice would count twice
    last = count(home, "SELECT max(id) FROM posts")
    assert [index.count_id(i) for i in (1, expected // 2, last)] == [1, 1, 1]
