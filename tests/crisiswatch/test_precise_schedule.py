"""The precise tier in the running product: the scheduler's precise tagging after each
crawl job's tag batch (a child process, within its budget, stopped with the crawls, then
indexed), the posts that come first queried again during a run. Tiny precise models saved
as tests/nlp/test_precise.py saves them."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from datetime import datetime

import pytest

from crawlers.jobs import load_jobs
from crisiswatch import stages
from desk import alerts
from desk.database import open_sessions
from desk.tables import Alert, Organisation
from tests.conftest import cli
from tests.nlp.test_precise import add_posts, precise_rows

pytest.importorskip("transformers")
from tests.nlp.test_precise import precise_models  # noqa: E402,F401  (a fixture: needs torch and transformers)

from nlp.precise import PreciseTier  # noqa: E402


def add_evidence(store, home, post_ids: list[int]) -> None:
    """An open alert whose evidence is ``post_ids``."""
    with open_sessions(store.engine, home.home)() as session:
        org = Organisation(name="滨海供电局", kind="enterprise", level="company")
        session.add(org)
        session.flush()
        rule = alerts.add_rule(session, alerts.add_scheme(session, "停电", org, "停电", places=(), actor="t"),
                               "spike", {}, actor="t")
        session.add(Alert(rule_id=rule.id, key="15m", level="IV", opened_at=datetime(2024, 7, 24),
                          updated_at=datetime(2024, 7, 24), count=1, baseline=0.0, post_ids=post_ids, query=""))
        session.commit()


def test_a_post_that_becomes_alert_evidence_during_a_run_comes_next(precise_models):
    home = precise_models
    store = stages.open_store(home)
    ids = add_posts(store, 5)
    batches = stages.precise_batches(home, store, PreciseTier.load(home.models_dir, quantize=False), batch_size=1,
                                     every=1)
    assert next(batches) == 1 and set(precise_rows(home)) == {ids[-1]}  # the newest
    add_evidence(store, home, [ids[0]])
    assert next(batches) == 1 and set(precise_rows(home)) == {ids[-1], ids[0]}  # not the next newest
    assert sum(batches) == 3
    store.close()


def test_tag_precise_refuses_a_budget_that_is_not_a_number_of_seconds_and_0_retags_nothing(precise_models):
    home = precise_models
    store = stages.open_store(home)
    add_posts(store, 2)
    for seconds in ("nan", "inf", "-1"):
        refused = cli("tag", "--precise", "--seconds", seconds, home=home, check=False)
        assert refused.exit_code == 2 and "--seconds" in refused.stderr, seconds
    assert "re-tagged 0 posts" in cli("tag", "--precise", "--seconds", "0", home=home).stdout
    assert precise_rows(home) == {}
    assert "re-tagged 2 posts" in cli("tag", "--precise", "--seconds", "60", home=home).stdout
    store.close()


def test_without_precise_models_or_budget_the_scheduler_tags_nothing_precisely(home, precise_models, caplog):
    off = dataclasses.replace(home, precise_budget="off")
    assert off.precise_seconds is None and not stages.tag_precise_in_child(off)
    assert dataclasses.replace(home, precise_budget="0").precise_seconds is None
    with pytest.raises(ValueError, match="CRISISWATCH_PRECISE_BUDGET"):
        dataclasses.replace(home, precise_budget="soon")
    bare = dataclasses.replace(home, home=home.home.parent / "bare").ensure_home()
    with caplog.at_level(logging.INFO, logger="crisiswatch.stages"):
        assert not stages.tag_precise_in_child(bare)
    (said,) = caplog.records  # one line a run
    assert said.getMessage().startswith("no precise tagging: no precise sentiment model")
    assert not (bare.home / "logs" / "tag-precise.log").exists()


@pytest.mark.slow
def test_the_scheduler_retags_within_its_budget_at_a_lower_priority_and_stops_with_the_crawls(precise_models):
    home = precise_models
    store = stages.open_store(home)
    total = 3000
    add_posts(store, total)
    store.close()
    assert stages.tag_precise_in_child(dataclasses.replace(home, precise_budget="0.001"))
    assert len(precise_rows(home)) == stages.PRECISE_BATCH  # the budget spent after the first batch
    log = (home.home / "logs" / "tag-precise.log").read_text()
    assert f"re-tagged {stages.PRECISE_BATCH} posts precisely" in log

    ran = []
    run = threading.Thread(target=lambda: ran.append(stages.tag_precise_in_child(home)))
    run.start()
    deadline = time.monotonic() + 120
    while len(precise_rows(home)) == stages.PRECISE_BATCH and time.monotonic() < deadline:
        time.sleep(0.05)
    with stages._children_lock:
        (child,) = stages._children
    assert os.getpriority(os.PRIO_PROCESS, child.pid) == os.getpriority(os.PRIO_PROCESS, 0) + stages.PRECISE_NICENESS
    assert not stages.tag_precise_in_child(home)  # one at a time
    stages.stop_crawls()
    run.join(stages.STOP_GRACE + 5)
    assert not run.is_alive() and ran == [False]
    assert stages.PRECISE_BATCH < len(precise_rows(home)) < total


@pytest.mark.slow
def test_a_crawl_jobs_cycle_tags_precisely_and_indexes_the_precise_tags(precise_models):
    job = load_jobs()["demo-releases"]
    stages.run_job_cycle(precise_models, job)
    found = json.loads(cli("search", "--json", home=precise_models).stdout)
    assert len(found["hits"]) == 4 and {hit["tags"]["tier"] for hit in found["hits"]} == {"precise"}
    assert len(precise_rows(precise_models)) == 4
