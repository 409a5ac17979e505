"""The spiders deployed to a real scrapyd on loopback, as on a crawl machine, storing what they find.

The egg is built by scrapyd-client from a copy of ``scrapy.cfg`` and ``crawlers/`` (the
Scrapy project alone): built in the checkout, its generated setup.py would meet
pyproject.toml, which drops the ``[scrapy] settings`` entry point scrapyd needs and leaves
build files behind. ``core`` comes from the installed crisiswatch, as on a target machine.
"""

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import feedparser
import pytest
import requests

from core.store import Store
from crawlers.loopback import serve_directory
from tests.conftest import FIXTURES, REPO, free_port, need, stop, wait_for
from tests.crawlers.replay import FEEDS

pytestmark = pytest.mark.slow
PROJECT = "crisiswatch"


@pytest.fixture
def scrapyd(tmp_path):
    """A scrapyd on a free loopback port, all its folders under a temporary one.

    No item feed (``items_dir`` empty): the posts go to the store, and an item carries
    its raw capture (bytes), which a JSON Lines feed cannot hold.
    """
    folder = tmp_path / "scrapyd"
    folder.mkdir()
    port = free_port()
    (folder / "scrapyd.conf").write_text(
        f"[scrapyd]\nhttp_port = {port}\nbind_address = 127.0.0.1\npoll_interval = 0.5\n"
        f"eggs_dir = {folder / 'eggs'}\nlogs_dir = {folder / 'logs'}\ndbs_dir = {folder / 'dbs'}\n"
        "items_dir =\n"
    )
    with open(folder / "scrapyd.out", "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for(server, lambda: requests.get(f"{url}/daemonstatus.json", timeout=1).raise_for_status(),
             requests.RequestException, "scrapyd")
    yield url, folder
    stop(server, folder)


def build_egg(folder: Path) -> Path:
    """``scrapyd-deploy --build-egg`` run in a copy of the Scrapy project."""
    project = folder / "project"
    shutil.copytree(REPO / "crawlers", project / "crawlers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "scrapy.cfg", project)
    egg = folder / "crisiswatch.egg"
    # TMPDIR: --build-egg leaves its build folder behind
    subprocess.run([sys.executable, "-m", "scrapyd_client.deploy", "--build-egg", str(egg)], cwd=project,
                   env={**os.environ, "TMPDIR": str(folder)}, check=True, capture_output=True)
    return egg


def test_spiders_deployed_to_scrapyd_store_the_feeds(scrapyd, tmp_path):
    url, folder = scrapyd
    egg = build_egg(tmp_path)
    with zipfile.ZipFile(egg) as contents:
        assert {"crawlers/settings.py", "crawlers/spiders/news.py"} <= set(contents.namelist())
        assert "settings = crawlers.settings" in contents.read("EGG-INFO/entry_points.txt").decode()

    with egg.open("rb") as handle:
        added = requests.post(f"{url}/addversion.json", data={"project": PROJECT, "version": "1"},
                              files={"egg": handle}, timeout=120).json()
    assert added["status"] == "ok" and added["spiders"] >= 1, added
    assert "news" in requests.get(f"{url}/listspiders.json", params={"project": PROJECT}, timeout=60).json()["spiders"]

    server, replay = serve_directory(need(FIXTURES))
    database = tmp_path / "store.db"
    try:
        scheduled = requests.post(f"{url}/schedule.json", timeout=30, data={
            "project": PROJECT, "spider": "news",
            "start_urls": ",".join(f"{replay}/{path}" for path in FEEDS),
            "setting": [f"CRISISWATCH_DATABASE_URL=sqlite:///{database}", "LOG_LEVEL=INFO"],
        }).json()
        assert scheduled["status"] == "ok", scheduled
        job = scheduled["jobid"]
        for _ in range(240):
            jobs = requests.get(f"{url}/listjobs.json", params={"project": PROJECT}, timeout=30).json()
            if any(j["id"] == job for j in jobs["finished"]):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the scrapyd job did not finish in 2 minutes")
    finally:
        server.shutdown()

    log = (folder / "logs" / PROJECT / "news" / f"{job}.log").read_text()
    entries = sum(len(feedparser.parse((FIXTURES / path).read_bytes()).entries) for path in FEEDS)
    assert " ERROR: " not in log, log[log.find(" ERROR: ") - 200:][:3000]
    assert f"'crisiswatch/stored': {entries}" in log, log[-3000:]
    store = Store(f"sqlite:///{database}")
    try:
        assert {c.platform: c.stored for c in store.counts()} == {"news": entries}
    finally:
        store.close()
