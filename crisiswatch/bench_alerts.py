"""``crisiswatch bench alerts``: how soon the alert rules see a burst, how often they fire
without one, and what evaluating a rule costs, on real post texts.

In a temporary home the corpus (or its first ``limit`` posts) is imported, tagged and
indexed first, so that every rule counts over an index of its size. A simulated timeline
of real texts follows, after the corpus's last day: a steady baseline of posts (12 hours
of it before the rules start, as their trailing baseline), and bursts of posts holding the
scheme's word in five shapes (sudden, ramp, two-step, an outage's many posts at once
decaying, a repost wave of one post). It is fed as the scheduler feeds a home, one batch a
minute: the batch's posts written to a file, imported, tagged, indexed, every rule
evaluated with ``now`` the batch's simulated time, then the notices sent
(``publishing.deliver_alerts``) to the scheme's webhook channel, a receiver on loopback.

A burst's delay runs from the batch that stored its first post to the notice of the
alert that opened for it received: the simulated minutes between the two batches, plus
the wall seconds from the opening batch's start (import, tag, index, check, send) to the
notice's arrival. An alert opened outside every burst (its start to its end plus the
rule's window) is a false alert. Each rule is also evaluated alone after each batch, before
the check, for its time (the first search of a new index commit pays the reload).
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select

from core.schema import CHINA_TZ
from core.settings import Settings
from core.store import PostRow
from crawlers.loopback import serve_directory
from crisiswatch import publishing, stages
from crisiswatch.bench import SEED, _p95, corpus_files, corpus_texts, scratch_home
from crisiswatch.importer import import_files
from desk import accounts, alert_outbox, alert_rules, alerts
from desk.database import open_sessions
from indexes.backends import open_index
from indexes.indexer import index_pending
from nlp.pipeline import build_pipeline
from nlp.tagger import tag_pending

WORD = "口罩"  # the scheme's query: masks, in about one post in seven of the corpus
START = datetime(2020, 7, 1, tzinfo=CHINA_TZ)  # after the corpus's last day (2020-05-30)
BATCH = timedelta(minutes=1)  # a crawl cycle of the scheduler
WARM_UP = timedelta(hours=12)  # the rules' default trailing baseline
BASELINE_PER_MINUTE = 2  # posts of any text
POOL = 60_000  # corpus texts the timeline draws from
# Posts holding WORD per minute, minute by minute from the burst's start.
SHAPES = {
    "sudden": [12] * 15,
    "ramp": list(range(1, 16)),
    "two-step": [2] * 15 + [8] * 10,
    "outage": [40, 24, 14, 9, 6, 4, 3, 2, 2, 1, 1, 1],  # the power goes: everyone posts at once
    "repost": [3, 12, 18, 10, 6, 4, 2, 1, 1, 1],  # one post reposted, near-identical texts
}
REPOST_WORDS = ["", "", "转发微博", "真的假的？", "扩散", "注意安全", "[怒]", "求证"]
SECRET = "bench-alerts-webhook-secret"
ORG = "基准测试"
# The live part: a scheme per burst, each on a word of its own (a scheme's alert stays one
# alert through its cool-down), LIVE_BURST posts holding it in one feed update.
LIVE_WORDS = ["口罩", "医院", "武汉"]
LIVE_BURST = 25
LIVE_WAIT_S = 180  # the most a burst's notice may take: the next crawl's minute, and the cycle
RULES = [  # (kind, parameters): each kind with its defaults, the keyword counting as a spike does
    ("spike", {}),
    ("share", {}),
    ("keyword", {"words": [WORD], "min_count": 20}),
]


@dataclass
class Burst:
    shape: str
    start: datetime
    end: datetime
    stored_at: datetime | None = None  # the batch that stored its first post
    delay_s: float | None = None


def timeline(hours: int, baseline: list[str], burst_texts: list[str]) -> tuple[list[tuple[datetime, str]], list[Burst]]:
    """The posts (time, text) from ``START - WARM_UP`` to ``START + hours``, in time order,
    and the bursts, spread evenly over the hours after ``START``."""
    rng = random.Random(SEED)
    end = START + timedelta(hours=hours)
    minutes = int((end - START + WARM_UP) / timedelta(minutes=1))
    posts = [(START - WARM_UP + timedelta(minutes=m, seconds=rng.uniform(0, 60)), rng.choice(baseline))
             for m in range(minutes) for _ in range(BASELINE_PER_MINUTE)]
    bursts = []
    for n, (shape, rates) in enumerate(SHAPES.items()):
        start = START + timedelta(hours=hours) * (2 * n + 1) / (2 * len(SHAPES))
        bursts.append(Burst(shape, start, start + timedelta(minutes=len(rates))))
        original = rng.choice(burst_texts)
        text = (lambda: repost(original, rng)) if shape == "repost" else (lambda: rng.choice(burst_texts))
        posts += [(start + timedelta(minutes=m, seconds=rng.uniform(0, 60)), text())
                  for m, rate in enumerate(rates) for _ in range(rate)]
    return sorted(posts), bursts


def repost(text: str, rng: random.Random) -> str:
    """A repost of ``text`` as Weibo writes one: a few words of its own or none, then the
    reposter and the original."""
    return f"{rng.choice(REPOST_WORDS)}//@用户{rng.randrange(10**6)}:{text}"


def write_batch(path: Path, posts: list[tuple[datetime, str]], first_id: int) -> None:
    """A CSV file as a crawl might leave it: an id, the time and the text of each post."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "created_at", "text"])
        out.writerows((f"bench-{first_id + n}", when.isoformat(), text) for n, (when, text) in enumerate(posts))


class Receiver(ThreadingHTTPServer):
    """The schemes' webhook on loopback: when (``time.time``) each alert's first notice
    arrived, by alert id, and the title of each (the scheme's name, then the alert's key)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: dict[int, float] = {}
        self.titles: list[tuple[float, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/alerts"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        at = time.time()
        notice = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        alert_id = int(notice["notice_id"].split("-")[1])  # alert-<alert>-<delivery>
        self.server.arrived.setdefault(alert_id, at)
        self.server.titles.append((at, notice["title"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def receiving():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def channels_file(path: Path, receiver: Receiver) -> None:
    """The bench organisation's one channel, ``duty``: the receiver's webhook."""
    path.write_text(f'[[organisation]]\nname = "{ORG}"\n[[organisation.channel]]\nname = "duty"\n'
                    f'kind = "webhook"\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n', encoding="utf-8")


def bench_alerts(settings: Settings, limit: int | None, hours: int, live: bool = True, say=print) -> dict:
    files = corpus_files(settings)
    with scratch_home(settings) as (bench_settings, store), receiving() as receiver:
        say("importing the corpus" if limit is None else f"importing the corpus's first {limit} posts")
        history = import_files(store, files, limit=limit).imported
        say(f"tagging and indexing {history} posts")
        stages.tag(bench_settings, store, quiet=True)
        stages.index(bench_settings, store, quiet=True)
        texts = corpus_texts(settings.data_dir, POOL)
        posts, bursts = timeline(hours, texts, [text for text in texts if WORD in text])
        sessions = open_sessions(store.engine, bench_settings.home)
        channels_file(bench_settings.channels_file, receiver)
        with sessions.begin() as session:
            org = accounts.create_organisation(session, ORG, "government", "city")
            scheme = alerts.add_scheme(session, "口罩", org, WORD, actor="bench")
            rules = [alerts.add_rule(session, scheme, kind, params, actor="bench") for kind, params in RULES]
            alert_outbox.add_recipient(session, scheme, org, "duty", actor="bench")
            scope = alerts.scope_of(scheme)
            rules = [(rule.kind, rule.params, rule.levels) for rule in rules]
        nlp = build_pipeline(bench_settings.models_dir)
        index = open_index(bench_settings)
        warm = [post for post in posts if post[0] < START]
        say(f"storing {len(warm)} posts of the baseline's first {WARM_UP}")
        _feed(bench_settings.home / "batch.csv", warm, 0, store, nlp, index)
        fed, eval_ms, opened = len(warm), [], []
        batches = int((posts[-1][0] - START) / BATCH) + 2
        say(f"{batches} batches of a minute, {len(posts) - fed} posts, {len(RULES)} rules after each")
        for number in range(batches):
            now = START + BATCH * (number + 1)
            batch = posts[fed:bisect_left(posts, now, key=lambda post: post[0])]
            started = time.perf_counter()
            _feed(bench_settings.home / "batch.csv", batch, fed, store, nlp, index)
            fed_s = time.perf_counter() - started
            fed += len(batch)
            for kind, params, levels in rules:  # each rule timed alone, first after the batch
                ms = time.perf_counter()
                alert_rules.evaluate(store, index, scope, kind, params, levels, now)
                eval_ms.append((time.perf_counter() - ms) * 1000)
            checked = time.time()
            with sessions.begin() as session:
                changes = alerts.check(session, store, index, now, actor="bench")
                new = [(change.rule.kind, now, change.alert.id) for change in changes if change.opened]
            if changes:  # as a crawl cycle sends them (stages.run_job_cycle)
                publishing.deliver_alerts(bench_settings, now)
            # the batch's wall time, less the rules timed alone (no part of a cycle)
            opened += [(kind, at, alert_id, fed_s - checked) for kind, at, alert_id in new]
            for burst in bursts:
                if burst.stored_at is None and any(burst.start <= when < burst.end for when, _ in batch):
                    burst.stored_at = now
            if number % 60 == 59 or new:
                say(f"{now:%m-%d %H:%M} {fed} posts, alerts opened: {len(opened)}")
        arrived = dict(receiver.arrived)
    figures = _figures(history + len(posts), hours, bursts, opened, arrived, eval_ms)
    if live:
        delays = live_delays(settings, texts, say=say)
        figures |= {"live_delay_s": delays,
                    "live_delay_s_p50": round(statistics.median(delays), 1) if delays else None}
    return figures


def _feed(path: Path, batch, first_id: int, store, nlp, index) -> None:
    """Import, tag and index a batch of posts, as a crawl cycle of the scheduler does."""
    if batch:
        write_batch(path, batch, first_id)
        import_files(store, [path])
        tag_pending(store, nlp)
        index_pending(store, index)


def _figures(posts: int, hours: int, bursts: list[Burst], opened: list, arrived: dict[int, float],
             eval_ms: list[float]) -> dict:
    """``opened``: (kind, batch time, alert id, wall clock offset) of each alert opened,
    where the offset plus its notice's arrival (``arrived``, ``time.time``) is the wall
    seconds since its batch started."""
    window = timedelta(seconds=alert_rules.COMMON["window"])
    false = {kind: 0 for kind, _ in RULES}
    for kind, at, alert_id, offset in opened:
        burst = next((b for b in bursts if b.start <= at <= b.end + window), None)
        if burst is None:
            false[kind] += 1
        elif alert_id in arrived:
            delay_s = (at - burst.stored_at).total_seconds() + offset + arrived[alert_id]
            if burst.delay_s is None or delay_s < burst.delay_s:  # the first notice received for it
                burst.delay_s = delay_s
    delays = [b.delay_s for b in bursts if b.delay_s is not None]
    return {
        "posts": posts,
        "simulated_hours": hours,
        "bursts": len(bursts),
        "detect_delay_s_p50": round(statistics.median(delays), 1) if delays else None,
        "detect_delay_s_max": round(max(delays), 1) if delays else None,
        "detect_delay_to": "notice received",
        "delay_s_by_shape": {b.shape: b.delay_s and round(b.delay_s, 1) for b in bursts},
        "missed": len(bursts) - len(delays),
        "false_alerts_per_day": round(max(false.values()) * 24 / hours, 2),
        "false_alerts_by_rule": false,
        "rule_eval_ms_p50": round(statistics.median(eval_ms), 2),
        "rule_eval_ms_p95": round(_p95(eval_ms), 2),
    }


def live_delays(settings: Settings, texts: list[str], bursts: int = len(LIVE_WORDS), say=print) -> list[float]:
    """Run ``crisiswatch schedule`` on a scratch home whose one crawl job reads a feed on
    loopback every minute; add a sudden burst of ``LIVE_BURST`` posts to the feed, a
    burst for each scheme in turn, and measure from the burst's first post stored (its
    ``stored_at``) to its alert's notice received: seconds, a burst each (none where the
    notice took longer than ``LIVE_WAIT_S``)."""
    delays = []
    with scratch_home(settings) as (home, store), receiving() as receiver, tempfile.TemporaryDirectory() as site:
        feed = Feed(Path(site) / "feed.xml")
        server, url = serve_directory(Path(site))
        channels_file(home.channels_file, receiver)
        home.jobs_file.write_text(f'[[job]]\nname = "live"\nspider = "news"\nstart_urls = ["{url}/feed.xml"]\n'
                                  f'keywords = []\nschedule = "* * * * *"\n', encoding="utf-8")
        with open_sessions(store.engine, home.home).begin() as session:
            org = accounts.create_organisation(session, ORG, "government", "city")
            for word in LIVE_WORDS[:bursts]:
                scheme = alerts.add_scheme(session, word, org, word, actor="bench")
                alerts.add_rule(session, scheme, "spike", {}, actor="bench")
                alert_outbox.add_recipient(session, scheme, org, "duty", actor="bench")
        env = {**os.environ, "CRISISWATCH_DATABASE_URL": home.database_url, "CRISISWATCH_INDEX": "embedded"}
        say("live: crisiswatch schedule, a crawl of a feed on loopback every minute")
        log = home.home / "schedule.log"
        with log.open("wb") as err:  # the child writes its own copy
            scheduler = subprocess.Popen([sys.executable, "-m", "crisiswatch", "schedule", "--home", str(home.home)],
                                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            for n, word in enumerate(LIVE_WORDS[:bursts]):
                others = [other for other in LIVE_WORDS if other != word]
                chosen = [text for text in texts if word in text and not any(o in text for o in others)]
                ids = feed.add(chosen[:LIVE_BURST], f"live-{n}")
                say(f"live: burst {n + 1} of {bursts}, {LIVE_BURST} posts holding {word} in the feed")
                got = _notice(receiver, word, time.time() + LIVE_WAIT_S, scheduler)
                if got is None:
                    last = log.read_text(encoding="utf-8", errors="replace").strip().rpartition("\n")[2]
                    say(f"live: no notice for burst {n + 1} within {LIVE_WAIT_S} s; the scheduler's log ends: {last}")
                    continue
                with store.engine.connect() as connection:
                    stored = connection.execute(select(func.min(PostRow.stored_at))
                                                .where(PostRow.platform_id.in_(ids))).scalar_one()
                delays.append(round(got - stored.replace(tzinfo=timezone.utc).timestamp(), 1))
                say(f"live: burst {n + 1} stored at {stored:%H:%M:%S} UTC, its notice {delays[-1]} s later")
        finally:
            scheduler.send_signal(signal.SIGINT)
            try:
                scheduler.wait(60)
            except subprocess.TimeoutExpired:
                scheduler.kill()
                scheduler.wait()
            server.shutdown()
            server.server_close()
    return delays


def _notice(receiver: Receiver, scheme: str, deadline: float, process: subprocess.Popen) -> float | None:
    """When the first notice of ``scheme`` arrived, waiting until ``deadline`` at most."""
    while time.time() < deadline and process.poll() is None:
        got = [at for at, title in receiver.titles if title.startswith(f"{scheme}：")]
        if got:
            return got[0]
        time.sleep(0.5)
    return None


class Feed:
    """An RSS feed on disk, its items added by bursts, each item dated when it was added."""

    def __init__(self, path: Path):
        self.path, self.items = path, []
        self._write()

    def add(self, texts: list[str], prefix: str) -> list[str]:
        now = format_datetime(datetime.now(CHINA_TZ))
        ids = [f"{prefix}-{n}" for n in range(len(texts))]
        self.items += [f"<item><title>{escape(text[:30])}</title><guid isPermaLink=\"false\">{guid}</guid>"
                       f"<pubDate>{now}</pubDate><description>{escape(text)}</description></item>"
                       for guid, text in zip(ids, texts)]
        self._write()
        return ids

    def _write(self) -> None:
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>bench</title>'
                + "".join(self.items) + "</channel></rss>\n")
        partial = self.path.with_suffix(".part")
        partial.write_text(body, encoding="utf-8")
        partial.replace(self.path)  # a crawl reads the old feed or the new one, never half
