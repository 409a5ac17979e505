"""``crisiswatch bench reports``: how long the briefings take on a home of real posts
(targets: a daily report over 100,000 posts in under 30 s, a special report of an
incident with 10,000 posts in under 15 s).

In a temporary home the corpus's first posts are imported, and after them one rumor
copied and reposted (each repost of an earlier copy) with as many comments, so that the
special report has a spread tree; every post is then placed in yesterday (China time, a
daily report's default day), in the order stored, evenly over it. The home is tagged (this
home's models, the lexicon fallback where there are none), the rumor's copies tagged as
likely rumors, and indexed. The incident searches a word of the corpus and was opened a
day after the start of the last stretch of yesterday that holds ``INCIDENT_POSTS`` posts
with the word, so its window is that stretch to now; a published release answers the
rumor. Each report is made ``ROUNDS`` times:
its figures (``make_report``) and each format of ``FORMATS`` timed, the median printed;
then made by ``crisiswatch report`` in a process of its own, once per format: the whole
command's seconds and its peak memory (this process holds the tagging's).
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from core.schema import CHINA_TZ, Tags
from core.settings import Settings
from core.store import PostRow, naive_utc
from crisiswatch import stages
from crisiswatch.bench import SEED, corpus_files, scratch_home
from crisiswatch.bench_spread import rumor_cluster
from crisiswatch.importer import import_files
from desk import accounts
from desk.clocks import load_clocks
from desk.database import open_sessions
from desk.dashboard import LOOKBACK
from desk.reports import FORMATS, make_report, render
from desk.states import ReleaseState
from desk.tables import Incident, Release, Version
from indexes.backends import open_index

DAILY_POSTS = 100_000
INCIDENT_POSTS = 10_000
WORD = "口罩"  # the incident's query: masks, in about one post in seven of the corpus
RUMOR = "听说口罩厂要停产了，口罩要断货，快转！"
RUMOR_COPIES = 1_000  # and as many comments
ROUNDS = 3
# `crisiswatch ARGS` that writes its peak memory to a file at exit: the child's own (VmHWM),
# since its resource usage counts the parent's memory copied at the fork
CHILD = """import atexit, sys
from pathlib import Path
from crisiswatch.bench import peak_rss_mb
from crisiswatch.cli import main
atexit.register(lambda path=Path(sys.argv.pop(1)): path.write_text(str(peak_rss_mb())))
main()"""


def spread_over(count: int, day: datetime) -> list[datetime]:
    """``count`` times evenly over ``day``, in order (naive UTC, as the store keeps them)."""
    step = timedelta(days=1) / count
    return [naive_utc(day + step * n) for n in range(count)]


def stretch_start(texts: list[str], times: list[datetime], word: str, wanted: int) -> datetime:
    """The time of the latest post from which to the end ``wanted`` posts hold ``word``
    (the first post's time where fewer do)."""
    found = 0
    for text, at in zip(reversed(texts), reversed(times)):
        found += word in text
        if found == wanted:
            return at
    return times[0]


def _timed(action) -> tuple[float, object]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def bench_reports(settings: Settings, say=print) -> dict:
    files = corpus_files(settings)
    # yesterday, as a daily report's default day; an incident's window ends now
    day = datetime.combine(datetime.now(CHINA_TZ).date() - timedelta(days=1), datetime.min.time(), CHINA_TZ)
    with scratch_home(settings) as (bench_settings, store):
        say(f"importing the corpus's first {DAILY_POSTS - 2 * RUMOR_COPIES} posts and a rumor's "
            f"{RUMOR_COPIES} copies and comments")
        import_files(store, files, limit=DAILY_POSTS - 2 * RUMOR_COPIES)
        store.upsert_posts(rumor_cluster(RUMOR_COPIES, random.Random(SEED), text=RUMOR))
        with store.engine.begin() as conn:
            ids, texts = zip(*conn.execute(select(PostRow.id, PostRow.text).order_by(PostRow.id)).all())
            times = spread_over(len(ids), day)
            conn.execute(update(PostRow).where(PostRow.id == bindparam("pid")).values(created_at=bindparam("at")),
                         [{"pid": pid, "at": at} for pid, at in zip(ids, times)])
        say(f"tagging and indexing {len(ids)} posts, all on {day:%Y-%m-%d} (China time)")
        stages.tag(bench_settings, store, quiet=True)
        copies = [pid for pid, text in zip(ids, texts) if text == RUMOR]
        store.save_tags([Tags(pid, 0.9, "anxiety", 0.8, [], "bench-reports", polarity="negative") for pid in copies])
        stages.index(bench_settings, store, quiet=True)
        since = stretch_start(texts, times, WORD, INCIDENT_POSTS)
        index = open_index(bench_settings)
        with open_sessions(store.engine, bench_settings.home)() as session:
            incident = _incident(session, since, store.get_post(copies[0])["cluster"], day)
            incident_id = incident.id
            clocks = load_clocks()
            daily = _measure(lambda: make_report("daily", store, index, session, clocks), say, "daily")
            special = _measure(lambda: make_report("special", store, index, session, clocks, incident=incident),
                               say, "special")
        say("the same with `crisiswatch report`, a process each")
        daily |= _commands(bench_settings, "daily", ["daily"])
        special |= _commands(bench_settings, "special", ["special", "--incident", str(incident_id)])
    return {**daily, **special}


def _incident(session, since: datetime, cluster: str, day: datetime) -> Incident:
    """The incident whose window starts at ``since`` (naive UTC), with a release published
    late on ``day`` that answers ``cluster``."""
    org = accounts.create_organisation(session, "基准测试", "government", "department")
    user = accounts.create_user(session, "bench-duty", "bench", secrets.token_urlsafe(16), org, ["drafter"])
    incident = Incident(title="口罩断货传言", query=WORD, started_at=since + LOOKBACK, created_by=user.id)
    session.add(incident)
    session.flush()
    release = Release(incident_id=incident.id, drafting_org_id=org.id, required_org_ids=[org.id], channel="weibo",
                      state=ReleaseState.PUBLISHED, published_at=naive_utc(day + timedelta(hours=23)),
                      rumor_clusters=[cluster], created_by=user.id)
    session.add(release)
    session.flush()
    session.add(Version(release_id=release.id, number=1, title="关于口罩供应的说明", body="口罩供应正常。",
                        author_id=user.id))
    session.commit()
    return incident


def _measure(make, say, name: str) -> dict:
    """``ROUNDS`` of the report's figures and of each format, in this process: the median
    seconds of each."""
    figures, files = [], {form: [] for form in FORMATS}
    for _ in range(ROUNDS):
        seconds, report = _timed(make)
        figures.append(seconds)
        for form in FORMATS:
            files[form].append(_timed(lambda: render(report, form))[0])
    say(f"{name}: {report.total_posts} posts, figures in {statistics.median(figures):.2f} s")
    spread = report.sections.get("spread", {}).get("posts")  # the special report's rumor tree
    return {f"{name}_posts": report.total_posts, **({f"{name}_spread_posts": spread} if spread else {}),
            f"{name}_figures_s": round(statistics.median(figures), 2),
            **{f"{name}_{form}_s": round(statistics.median(seconds), 2) for form, seconds in files.items()}}


def _commands(settings: Settings, name: str, options: list[str]) -> dict:
    """``crisiswatch report`` in a process of its own, once per format: the whole command's
    seconds for each, and the most memory one of them held."""
    found, peak = {}, 0
    for form in FORMATS:
        out, peak_file = settings.home / f"{name}.{form}", settings.home / "peak_rss_mb"
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD, str(peak_file), "report", *options, "--format", form,
                        "--out", str(out), "--home", str(settings.home)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "CRISISWATCH_DATABASE_URL": settings.database_url,
                            "CRISISWATCH_INDEX": "embedded"})
        found[f"{name}_{form}_command_s"] = round(time.perf_counter() - began, 2)
        peak = max(peak, float(peak_file.read_text()))
    return {**found, f"{name}_command_peak_rss_mb": round(peak)}
