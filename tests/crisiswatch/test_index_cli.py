"""The index stage through the command line: rebuilds, the backend setting, the benchmark."""

import json
import subprocess
import sys
import threading
import time

import pytest
import tantivy
from click.testing import CliRunner

from core.store import Store
from crisiswatch.cli import main
from crisiswatch.stages import index_lock
from tests.conftest import REPO


def run(*args, env=None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_rebuild_replaces_the_index_at_once(home, covid_day):
    h = str(home.home)
    run("import", str(covid_day), "--home", h)
    run("index", "--home", h)
    before = json.loads(run("search", "武汉", "--json", "--home", h))["total"]
    assert "indexed" in run("index", "--rebuild", "--home", h)
    assert json.loads(run("search", "武汉", "--json", "--home", h))["total"] == before > 0
    assert sorted(p.name for p in home.index_dir.iterdir()) == ["current", "v2"]


def test_an_index_of_the_old_layout_asks_for_a_rebuild(home, covid_day):
    h = str(home.home)
    run("import", str(covid_day), "--home", h)
    (home.index_dir / "meta.json").write_text("{}")  # crisiswatch 0.1 kept Tantivy's files here
    (home.index_dir / "current").write_text("v1")  # and a search since may have made a pointer
    result = CliRunner().invoke(main, ["search", "武汉", "--home", h])
    assert result.exit_code == 1 and "crisiswatch index --rebuild" in result.output
    run("index", "--rebuild", "--home", h)
    assert json.loads(run("search", "武汉", "--json", "--home", h))["total"] > 0


def test_an_index_with_older_fields_is_rebuilt_by_the_index_stage(home, covid_day):
    h = str(home.home)
    run("import", str(covid_day), "--home", h)
    (home.index_dir / "v1").mkdir(parents=True)
    (home.index_dir / "current").write_text("v1")
    older = tantivy.SchemaBuilder()
    older.add_integer_field("id", stored=True, indexed=True, fast=True)
    tantivy.Index(older.build(), path=str(home.index_dir / "v1"))
    result = CliRunner().invoke(main, ["search", "武汉", "--home", h])
    assert result.exit_code == 1 and "crisiswatch index --rebuild" in result.output
    result = CliRunner().invoke(main, ["index", "--home", h], catch_exceptions=False)
    assert "older version" in result.stderr and "rebuilding" in result.stderr
    assert json.loads(run("search", "武汉", "--json", "--home", h))["total"] > 0


def test_a_setting_chooses_the_backend(home, covid_day, noida_url):
    h = str(home.home)
    run("import", str(covid_day), "--home", h)
    run("index", "--home", h)
    embedded = json.loads(run("search", '"武汉" -肺炎', "--sort", "newest", "--json", "--home", h))
    elastic = {"CRISISWATCH_INDEX": "elasticsearch", "CRISISWATCH_ES_URL": noida_url}
    run("index", "--rebuild", "--home", h, env=elastic)
    answer = json.loads(run("search", '"武汉" -肺炎', "--sort", "newest", "--json", "--home", h, env=elastic))
    assert answer["total"] == embedded["total"] > 0
    assert [hit["id"] for hit in answer["hits"]] == [hit["id"] for hit in embedded["hits"]]
    assert answer["facets"] == embedded["facets"] and answer["histogram"] == embedded["histogram"]
    status = json.loads(run("status", "--json", "--home", h, env=elastic))
    assert status["index"]["backend"] == "elasticsearch" and status["index"]["documents"] == status["totals"]["stored"]


def test_the_search_benchmark_runs(home, covid_day):  # the benchmark reads the corpus: skipped without it
    result = json.loads(run("bench", "search", "--limit", "1500", "--json", "--home", str(home.home)))
    assert result["posts"] == 1500 and result["queries"] >= 200 and result["recall"] == 1.0
    assert {"index_posts_per_s", "p50_ms", "p95_ms", "common_word_sorted_ms", "size_mb", "peak_rss_mb"} <= set(result)


@pytest.mark.slow
def test_an_index_run_waits_for_one_in_another_process(home, tmp_path):
    h = str(home.home)
    posts = tmp_path / "posts.csv"
    posts.write_text("userid,text\n1,东湖区停电了\n2,滨海市限电通知\n", encoding="utf-8")
    run("import", str(posts), "--home", h)
    with index_lock(home):  # as a rebuild in another process holds it
        child = subprocess.Popen([sys.executable, "-m", "crisiswatch", "index", "--home", h], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said: list[str] = []
        threading.Thread(target=lambda: said.extend(child.stderr), daemon=True).start()
        deadline = time.monotonic() + 120
        while not any("waiting for another index run" in line for line in said) and child.poll() is None:
            assert time.monotonic() < deadline, said
            time.sleep(0.1)
        time.sleep(1)
        assert child.poll() is None  # still waiting: nothing indexed, nothing marked indexed
        store = Store(home.database_url)
        assert store.count_to_index() == 2
    assert "indexed 2 posts" in child.communicate(timeout=120)[0] and child.returncode == 0
    assert store.count_to_index() == 0
    store.close()
    assert json.loads(run("search", "停电", "--json", "--home", h))["total"] == 1
