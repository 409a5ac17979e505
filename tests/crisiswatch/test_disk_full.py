"""A full disk, for real: a small tmpfs filled up, the commands run on it, space freed, rerun.

Each command must say in one line what stopped and what to free (no traceback), and the
rerun must finish the work with nothing lost or stored twice. Mounting needs root (or
CAP_SYS_ADMIN); elsewhere these tests skip.
"""

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import Result

from core.settings import Settings
from core.store import Store
from crawlers.loopback import serve_directory
from tests.conftest import cli, crisiswatch

POSTS = 20_000


@pytest.fixture
def disk(tmp_path):
    """A 64 MB filesystem of its own."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot mount a small filesystem here: {err}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_home(disk) -> Settings:
    return Settings.load(disk / "home").ensure_home()


def fill(disk: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of the disk's free space; delete the file to free it."""
    ballast = disk / "ballast"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with ballast.open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(free - leave, 1))
    return ballast


def posts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "posts.csv"
    rows = (f"{n},第{n}条：东湖区{n % 97}号楼停电了，什么时候恢复供电？{'急' * (n % 40)}\n" for n in range(POSTS))
    path.write_text("userid,text\n" + "".join(rows), encoding="utf-8")
    return path


def said_in_one_line(result: Result, what: str) -> None:
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert result.exit_code == 1 and "Traceback" not in result.stderr + result.stdout
    assert len(errors) == 1 and f"crisiswatch {what} stopped: the disk holding" in errors[0], result.stderr[-2000:]
    assert "is full" in errors[0] and "run it again" in errors[0]


def stored(home: Settings) -> tuple[int, int]:
    """(posts stored, posts waiting to be indexed)."""
    store = Store(home.database_url)
    try:
        return sum(c.stored for c in store.counts()), store.count_to_index()
    finally:
        store.close()


def test_import_on_a_full_disk_stops_in_one_line_and_a_rerun_loses_nothing(small_home, disk, tmp_path):
    path = posts_csv(tmp_path)
    ballast = fill(disk, leave=2 * 2**20)
    said_in_one_line(cli("import", str(path), home=small_home, check=False), "import")
    ballast.unlink()
    rerun = cli("import", str(path), home=small_home)
    assert stored(small_home) == (POSTS, POSTS) and "rejected 0" in rerun.stdout


def test_index_on_a_full_disk_stops_in_one_line_and_a_rerun_indexes_every_post(small_home, disk, tmp_path):
    cli("import", str(posts_csv(tmp_path)), home=small_home)
    ballast = fill(disk, leave=2**20)
    said_in_one_line(cli("index", home=small_home, check=False), "index")
    ballast.unlink()
    cli("index", home=small_home)
    assert stored(small_home) == (POSTS, 0)
    status = cli("status", "--json", home=small_home).stdout
    assert f'"documents": {POSTS}' in status
    assert '"total": 1' in cli("search", '"第12345条"', "--json", home=small_home).stdout


def test_a_rebuild_on_a_full_disk_stops_in_one_line_and_leaves_no_half_built_version(small_home, disk, tmp_path):
    cli("import", str(posts_csv(tmp_path)), home=small_home)
    cli("index", home=small_home)
    versions = sorted(p.name for p in (small_home.home / "index").iterdir())
    ballast = fill(disk, leave=2**20)
    said_in_one_line(cli("index", "--rebuild", home=small_home, check=False), "index")
    assert sorted(p.name for p in (small_home.home / "index").iterdir()) == versions  # its space is free again
    ballast.unlink()
    assert '"total": 1' in cli("search", '"第12345条"', "--json", home=small_home).stdout


@pytest.mark.slow
def test_a_crawl_on_a_full_disk_stops_clearly_and_a_rerun_stores_every_post(small_home, disk, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    items = "".join(f"<item><title>停电通知 {n}</title><link>http://example.org/notice/{n}</link>"
                    f"<description>{'东湖区停电，抢修中。' * 30} {n}</description></item>" for n in range(1200))
    (site / "feed.xml").write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                                   f"<title>供电公告</title>{items}</channel></rss>", encoding="utf-8")
    server, url = serve_directory(site)
    args = ("crawl", "--spider", "news", "--store-only", "-a", f"start_urls={url}/feed.xml", "-s", "LOG_LEVEL=ERROR",
            "-s", "ROBOTSTXT_OBEY=False")
    try:
        crisiswatch("status", home=small_home)  # the store exists; then the disk fills up
        ballast = fill(disk, leave=2 * 2**20)
        full = crisiswatch(*args, home=small_home, check=False)
        ballast.unlink()
        rerun = crisiswatch(*args, home=small_home)
    finally:
        server.shutdown()
    assert full.returncode == 1 and "Traceback" not in full.stderr + full.stdout
    assert "disk" in full.stdout + full.stderr and "full" in full.stdout + full.stderr
    assert "crawl manual-news: ok" in rerun.stdout and stored(small_home)[0] == 1200
