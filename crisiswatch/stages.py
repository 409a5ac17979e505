"""Each stage run once against a home: what the commands and the scheduler call.

This is the one place that knows every stage; the stages themselves only know the
shared ``core`` package. The NLP stage's modules are imported where they are used:
spaCy brings thinc, which imports torch when it is installed (400 MB for an index run).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from core import segment
from core.settings import Settings
from core.store import Store
from crawlers.jobs import Job, load_jobs
from desk import migrations
from indexes import indexer
from indexes.backends import open_index
from indexes.errors import IndexOutdated
from indexes.indexer import index_pending, rebuild
from nlp.datasets import REPLIES_PER_POST, Labelled
from nlp.models import CLASSIFIER_TASKS, TASKS, is_current

# Tagging and indexing write through one index writer and one model set per process.
_stage_lock = threading.Lock()
log = logging.getLogger(__name__)


def open_store(settings: Settings) -> Store:
    """The home's store, its database brought to the head of the migration history first
    (a home made by an earlier release is upgraded, each step said on stderr)."""
    settings.ensure_home()
    segment.configure(settings.cache_dir)
    store = Store(settings.database_url)
    migrations.upgrade(store.engine, say=lambda line: print(line, file=sys.stderr))
    return store


def tag(settings: Settings, store: Store, batch_size: int = 1000, limit: int | None = None,
        quiet: bool = False) -> tuple[int, int]:
    """Tag the untagged posts, then find again the places and organisations of posts
    tagged without the current NER model (the demo trains it after tagging the sample);
    returns how many posts of each (``limit`` bounds both together)."""
    from nlp.pipeline import build_pipeline
    from nlp.tagger import places_version, retag_places, tag_pending

    with _stage_lock:
        nlp = build_pipeline(settings.models_dir, local_places=settings.own_places)
        total = store.count_to_tag() if limit is None else limit
        with tqdm(total=total, unit="post", desc="tag", disable=quiet or not total) as bar:
            tagged = tag_pending(store, nlp, batch_size=batch_size, progress=bar, limit=limit)
        left = None if limit is None else limit - tagged
        version_end = places_version(nlp)
        total = store.count_to_retag(version_end) if version_end else 0
        total = total if left is None else min(total, left)
        with tqdm(total=total, unit="post", desc="places", disable=quiet or not total) as bar:
            return tagged, retag_places(store, nlp, batch_size=batch_size, progress=bar, limit=left)


def tag_precise(settings: Settings, store: Store, incident: int | None = None, batch_size: int = 1000,
                limit: int | None = None, seconds: float | None = None, quiet: bool = False) -> int:
    """Re-tag precisely (nlp.precise) the posts that matter first: those of the open
    incidents (their queries, newest first; only incident ``incident`` where given), alert
    evidence and likely rumors, then the rest newest first; returns how many posts. With
    ``seconds``, no batch starts after that time (the one under way finishes; the first
    always starts), and 0 re-tags nothing, as a ``CRISISWATCH_PRECISE_BUDGET`` of 0.
    Raises ``EncoderUnavailable`` (its line says why) without the precise models."""
    from nlp.precise import PreciseTier

    if seconds == 0:
        return 0

    with _stage_lock:
        tier = PreciseTier.load(settings.models_dir)
        deadline = None if seconds is None else time.monotonic() + seconds
        total = store.count_to_tag_precisely(tier.version) if limit is None else limit
        done = 0
        with tqdm(total=total, unit="post", desc="tag precisely", disable=quiet or not total) as bar:
            for count in precise_batches(settings, store, tier, incident, batch_size, limit):
                done += count
                bar.update(count)
                if deadline is not None and time.monotonic() >= deadline:
                    break
        return done


PRIORITIES_EVERY = 10  # batches of precise tagging between two queries of the posts that come first


def precise_batches(settings: Settings, store: Store, tier, incident: int | None = None, batch_size: int = 1000,
                    limit: int | None = None, every: int = PRIORITIES_EVERY) -> Iterator[int]:
    """Re-tag precisely a batch at a time in ``tag_precise``'s order, yielding how many posts
    each batch re-tagged. The ids that come first are queried again every ``every`` batches:
    a post that becomes an incident's or an alert's evidence during a long run comes next,
    not with the rest. Each time only those not yet re-tagged are kept, so that the batches
    between do not walk again the ids done before."""
    from nlp.precise import tag_precisely

    done = batches = 0
    first: list[list[int]] = []
    while limit is None or done < limit:
        if batches % every == 0:
            first = [[post_id for post_id, _ in store.posts_to_tag_precisely(tier.version, len(ids), ids)]
                     for ids in precise_priorities(settings, store, incident)]
        size = batch_size if limit is None else min(batch_size, limit - done)
        count = tag_precisely(store, tier, first, limit=size, batch_size=size, rest=incident is None)
        if not count:
            return
        done += count
        batches += 1
        yield count


class NoIncident(Exception):
    """``tag --precise --incident N`` names no incident."""


PRIORITY_DEPTH = 100_000  # posts of one incident's query, or of likely rumors, re-tagged first


def precise_priorities(settings: Settings, store: Store, incident: int | None = None) -> list[list[int]]:
    """The ids the precise tier re-tags first, in that order: each incident's posts (by its
    query, newest first; the newest incident first), the evidence of open alerts, likely rumors.
    An incident's query needs the index; without one, its posts come with the rest."""
    from sqlalchemy import select

    from desk.dashboard import incident_since
    from desk.database import open_sessions
    from desk.states import AlertState
    from desk.tables import Alert, Incident
    from indexes.errors import IndexUnavailable
    from indexes.query import SearchQuery

    with open_sessions(store.engine, settings.home)() as session:
        query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
        incidents = session.scalars(query if incident is None else query.where(Incident.id == incident)).all()
        if incident is not None and not incidents:
            raise NoIncident(f"no incident {incident}")
        evidence = [] if incident is not None else [
            post_id for alert in session.scalars(select(Alert).where(Alert.state != AlertState.CLOSED)
                                                 .order_by(Alert.updated_at.desc()))
            for post_id in alert.post_ids]
    searches = [SearchQuery(text=i.query or "", since=incident_since(i), sort="newest") for i in incidents]
    if incident is None:
        searches.append(SearchQuery(rumor=True, sort="newest"))
    try:
        idx = open_index(settings)
        found = [list(idx.ids(search, PRIORITY_DEPTH)) for search in searches]
    except IndexUnavailable:
        found = []
    return [*found[:len(incidents)], evidence, *found[len(incidents):]]


def index_lock(settings: Settings):
    """The home's index lock, held by every index run (see indexes.indexer.index_lock)."""
    return indexer.index_lock(settings.home / "index.lock", on_wait=lambda: tqdm.write(
        "waiting for another index run in this home to finish", file=sys.stderr))


def index(settings: Settings, store: Store, full_rebuild: bool = False, quiet: bool = False) -> int:
    """Index pending posts, or rebuild; an index of an older version is rebuilt (the store has every post)."""
    with _stage_lock, index_lock(settings):
        idx = open_index(settings)
        if not full_rebuild:
            try:
                idx.num_docs()
            except IndexOutdated as err:
                tqdm.write(f"{err}: rebuilding it now", file=sys.stderr)
                full_rebuild = True
        total = sum(c.stored for c in store.counts()) if full_rebuild else store.count_to_index()
        with tqdm(total=total, unit="post", desc="index", disable=quiet or not total) as bar:
            if full_rebuild:
                return rebuild(store, idx, progress=bar)
            return index_pending(store, idx, progress=bar)


def train(settings: Settings, tasks: list[str], data_file: Path | None = None, say=print) -> list[dict]:
    """Train each task from its data file plus the analysts' corrections in the store."""
    from nlp.train import train_task

    store = open_store(settings)
    try:
        return [train_task(task, settings.data_dir, settings.models_dir, progress=say, data_file=data_file,
                           corrections=corrections(store, task) if task in CLASSIFIER_TASKS else None)
                for task in tasks]
    finally:
        store.close()


def train_transformer(settings: Settings, task: str, base: Path, data_file: Path | None = None,
                      epochs: int = 2, quantize: bool = False, say=print) -> dict:
    from nlp.train import train_transformer_task

    store = open_store(settings)
    try:
        return train_transformer_task(task, base, settings.data_dir, settings.models_dir, progress=say,
                                      data_file=data_file, corrections=corrections(store, task),
                                      epochs=epochs, quantize=quantize)
    finally:
        store.close()


def train_precise(settings: Settings, task: str, data_file: Path | None = None, minutes: float = 18.0,
                  say=print) -> dict:
    """Fine-tune the encoder for the precise tier's ``task`` (see nlp.precise_train)."""
    from nlp import encoder
    from nlp.precise_train import train_precise as fine_tune

    reason = encoder.problem(settings.encoder_dir)
    if reason:
        raise encoder.EncoderUnavailable(reason)
    store = open_store(settings)
    try:
        examples = corrections(store, task)
    finally:
        store.close()
    return fine_tune(task, settings.encoder_dir, settings.data_dir, settings.models_dir, data_file=data_file,
                     corrections=examples, minutes=minutes, say=say)


def train_topics(settings: Settings, say=print) -> dict:
    """Learn topics from the analysts' topic corrections (see nlp.topic_model)."""
    from nlp.features import featurize
    from nlp.topic_model import train_topics as learn_topics

    store = open_store(settings)
    try:
        examples = store.corrected_examples("topics")
    finally:
        store.close()
    label_sets = [set(label.split(",")) - {""} for _, _, label in examples]
    return learn_topics([text for _, text, _ in examples], label_sets, settings.models_dir,
                        lambda texts: featurize([segment.cut(t) for t in texts]), progress=say)


def corrections(store: Store, task: str) -> Labelled:
    examples = store.corrected_examples(task)
    replies = store.reply_texts([post_id for post_id, _, _ in examples], REPLIES_PER_POST) if task == "rumor" else {}
    return Labelled(texts=[text for _, text, _ in examples], labels=[label for _, _, label in examples],
                    replies=[replies.get(post_id, []) for post_id, _, _ in examples] if task == "rumor" else [])


def untrained_tasks(settings: Settings) -> list[str]:
    """Tasks without a model fit for this version (never trained, or trained by an older one)."""
    return [task for task in TASKS if not is_current(settings.models_dir, task)]


_children: set[subprocess.Popen] = set()  # the crawls and precise tagging running in children, for ``stop_crawls``
_children_lock = threading.Lock()
STOP_GRACE = 10  # seconds a child asked to stop has to close before it is killed


def crawl_in_child(settings: Settings, job: Job) -> int:
    """Run one job's crawl (store only) as a child process running the crawlers' entry point
    (Twisted's reactor cannot restart); its output goes to the job's crawl log."""
    command = [sys.executable, "-m", "crawlers.run", job.name, "--home", str(settings.home)]
    return run_child(command, settings.home / "logs" / f"crawl-{job.name}.log")


PRECISE_NICENESS = 10  # precise tagging yields the cores to the UI, the crawls, the publisher and the alert rules
PRECISE_BATCH = 256  # posts per batch of the scheduler's precise tagging: its budget is overrun by one at most
_precise_running = threading.Lock()  # one precise tagging at a time, whichever crawl job's cycle starts it


def tag_precise_in_child(settings: Settings) -> bool:
    """After a crawl job's tag batch, re-tag precisely for ``settings.precise_seconds``
    (``tag --precise --seconds``) in a child process at a lower priority, so that it holds
    up neither the UI nor the scheduler's other jobs, and ``stop_crawls`` stops it. Nothing
    runs where the budget is off, where another cycle's precise tagging runs, or without
    the precise models (one log line). Returns whether it ran to its end: then index."""
    from nlp.precise import problem

    seconds = settings.precise_seconds
    if seconds is None:
        return False
    reason = problem(settings.models_dir)
    if reason:
        log.info("no precise tagging: %s", reason)
        return False
    if not _precise_running.acquire(blocking=False):
        return False
    try:
        command = [sys.executable, "-m", "crisiswatch", "tag", "--precise", "--seconds", f"{seconds:g}",
                   "--batch-size", str(PRECISE_BATCH), "--home", str(settings.home)]
        return run_child(command, settings.home / "logs" / "tag-precise.log", PRECISE_NICENESS) == 0
    finally:
        _precise_running.release()


def run_child(command: list[str], log_path: Path, niceness: int = 0) -> int:
    """Run ``command`` in a child process (``niceness`` below this one's priority), its
    output appended to ``log_path``, until it ends or ``stop_crawls`` stops it: its exit status."""
    with log_path.open("ab") as output:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                 env=os.environ.copy())
        with _children_lock:
            _children.add(child)
        try:
            if niceness:  # set from here: a preexec_fn is unsafe in a process running threads, as this one does
                os.setpriority(os.PRIO_PROCESS, child.pid, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
            return child.wait()
        finally:
            with _children_lock:
                _children.discard(child)


def stop_crawls() -> None:
    """Stop the crawls and the precise tagging running in children, as a scheduler that
    stops must: each is asked (SIGTERM), then killed after ``STOP_GRACE`` seconds; each is
    safe to stop at any point (a crawl's checkpoints pass on only what is stored, precise
    tags are saved a batch per transaction), and runs again later.
    Without this a crawl of a site that stopped answering held the process for minutes."""
    with _children_lock:
        running = [child for child in _children if child.poll() is None]
    for child in running:
        child.terminate()
    for child in running:
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run_job_cycle(settings: Settings, job: Job, now: datetime | None = None) -> None:
    """Crawl a job, then tag and index what it brought in, then evaluate the alert rules
    at ``now`` (default: the clock) and send the notices of the alerts that opened or rose
    at once, not at the notice job's next run (a notice's claim keeps the two senders apart);
    then re-tag precisely within the budget (``tag_precise_in_child``) and index what changed."""
    from crisiswatch.publishing import deliver_alerts

    crawl_in_child(settings, job)
    store = open_store(settings)
    try:
        tag(settings, store, quiet=True)
        index(settings, store, quiet=True)
        changes = check_alerts(settings, store, now)
    finally:
        store.close()
    if changes:
        try:
            deliver_alerts(settings, now)
        except Exception:  # the notice job sends them at its next run
            log.exception("the alerts' notices were not sent")
    if tag_precise_in_child(settings):
        store = open_store(settings)
        try:
            index(settings, store, quiet=True)
        finally:
            store.close()


def check_alerts(settings: Settings, store: Store, now: datetime | None = None) -> list:
    """Evaluate the alert rules at ``now`` (default: the clock) against the index as it is
    (after an index batch, and every minute from the scheduler): the alerts' changes. A
    failure is logged, not raised: the crawls and the scheduler go on, and the next run
    evaluates again."""
    from desk import alerts
    from desk.clocks import load_clocks
    from desk.database import open_sessions

    try:
        with open_sessions(store.engine, settings.home)() as session:
            changes = alerts.check(session, store, open_index(settings), now,
                                   clocks=load_clocks(settings.home / "clocks.toml"))
            session.commit()
        return changes
    except Exception:  # whatever failed, this evaluation only
        log.exception("the alert rules were not evaluated")
        return []


def jobs_of(settings: Settings) -> dict[str, Job]:
    return load_jobs(settings.jobs_file)
