"""``crisiswatch bench search``: indexing speed, query latency and recall on the real corpus.

Runs in a temporary home so that it never touches an analyst's data. The import is not
timed; indexing is (tokenisation included). Each query is answered as a full result
page: 20 hits read from the store with snippets, the total, every facet and the per-day
histogram. Recall compares, for each single query word, the posts the index finds with
a plain substring scan of every stored text.
"""

from __future__ import annotations

import csv
import gzip
import html
import math
import os
import random
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from core import segment
from core.settings import Settings
from core.store import Store
from crawlers.loopback import serve_directory
from crisiswatch.importer import detect_encoding, import_files
from indexes.analysis import normalise
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from indexes.query import SearchQuery, parse_time
from indexes.results import search

SEED = 20200119


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Start measuring peak memory afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1000, result


def query_mix(texts: list[str], days: list[str]) -> tuple[list[SearchQuery], dict[str, list[str]]]:
    """At least 200 queries: common, mid-frequency and rare words, pairs, phrases, ranges, filters."""
    rng = random.Random(SEED)
    counts = Counter(w for text in rng.sample(texts, min(len(texts), 20_000)) for w in set(segment.query_terms(text))
                     if len(w) >= 2 and not w.isascii())
    ranked = [w for w, _ in counts.most_common()]
    words = {
        "common": ranked[:30],
        "mid": ranked[300:1000:12][:50],
        "rare": rng.sample([w for w, c in counts.items() if 3 <= c <= 5], 50),
    }
    queries = [SearchQuery(text=w, sort=sort) for group in words.values() for w in group for sort in ("newest",)]
    queries += [SearchQuery(text=w) for w in words["common"][:10] + words["mid"][:10]]  # by relevance
    queries += [SearchQuery(text=f"{a} {b}") for a, b in zip(words["common"][:20], words["mid"][:20])]
    queries += [SearchQuery(text=f'"{a}{b}"') for a, b in zip(words["common"][:10], words["common"][10:20])]
    queries += [SearchQuery(text=f'"{w}"', sort="newest") for w in words["mid"][20:40]]
    for w in words["common"][:20]:
        day = rng.choice(days)
        queries.append(SearchQuery(text=w, since=parse_time(day), until=parse_time(day, end_of_day=True), sort="newest"))
    queries += [SearchQuery(text=w, platforms=("weibo",), sort="newest") for w in words["mid"][:20]]
    return queries, words


@contextmanager
def ui_server(settings: Settings, store: Store):
    """The review UI on a loopback port, served by werkzeug in a thread; yields its URL
    and a URL opener logged in as an analyst (through the login form, as a browser is)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    from desk import accounts
    from desk.database import open_sessions
    from review_ui import create_app

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", 0, create_app(settings, store=store), threaded=True, request_handler=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    password = secrets.token_urlsafe(16)
    with open_sessions(store.engine, settings.home).begin() as session:
        org = accounts.create_organisation(session, "基准测试", "government", "department")
        accounts.create_user(session, "bench-analyst", "bench", password, org, ["analyst"])
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = opener.open(f"{base}/login", timeout=30).read().decode("utf-8")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": "bench-analyst", "password": password})
    opener.open(f"{base}/login", data=form.encode("ascii"), timeout=30).read()
    try:
        yield base, opener
    finally:
        server.shutdown()


def bench_search(data_dir: Path, limit: int | None, say=print) -> dict:
    files = sorted((data_dir / "weibo_covid_2020").glob("*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no corpus at {data_dir / 'weibo_covid_2020'} (set CRISISWATCH_DATA)")
    home = Path(tempfile.mkdtemp(prefix="crisiswatch-bench-"))
    try:
        settings = Settings.load(home).ensure_home()
        store = Store(settings.database_url)
        say("importing the corpus (not timed)")
        posts = import_files(store, files, limit=limit).imported
        say(f"indexing {posts} posts")
        reset_peak_rss()
        index_ms, _ = _timed(lambda: index_pending(store, EmbeddedIndex(settings.index_dir)))
        peak = peak_rss_mb()
        index = EmbeddedIndex(settings.index_dir)
        texts = [normalise(t) for t in store.all_texts()]  # read after indexing: not the index stage's memory
        days = [day for day, _ in search(store, index, SearchQuery()).histogram]
        queries, words = query_mix(texts, days)
        say(f"running {len(queries)} queries, each a full page")
        for query in queries[:20]:
            search(store, index, query)  # warm the page cache, as a running server would be
        latencies = [_timed(lambda q=query: search(store, index, q))[0] for query in queries]
        common = SearchQuery(text=words["common"][0], sort="newest")
        common_ms = statistics.median(_timed(lambda: search(store, index, common))[0] for _ in range(5))
        deep_ms, depth = _deep_page(store, index, common)
        say("measuring recall against a substring scan of every post")
        found = expected = 0
        for word in [w for group in words.values() for w in group]:
            contains = sum(word in t for t in texts)
            total = search(store, index, SearchQuery(text=f'"{word}"', per_page=1)).total
            expected += contains
            found += min(total, contains)
        with ui_server(settings, store) as (base, opener):
            http = []
            for query in queries:
                url = f"{base}/api/search?" + urllib.parse.urlencode({"q": query.text, "sort": query.sort})
                ms, _ = _timed(lambda u=url: opener.open(u, timeout=30).read())
                http.append(ms)
        size = sum(p.stat().st_size for p in settings.index_dir.rglob("*") if p.is_file())
        return {
            "posts": posts,
            "index_posts_per_s": round(posts / (index_ms / 1000)),
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(_p95(latencies), 2),
            "common_word_sorted_ms": round(common_ms, 2),
            "recall": round(found / expected, 4) if expected else None,
            "size_mb": round(size / 2**20, 1),
            "peak_rss_mb": round(peak),
            "queries": len(queries),
            "deep_page_ms": round(deep_ms, 2),
            "deep_page_depth": depth,
            "http_p50_ms": round(statistics.median(http), 2),
            "http_p95_ms": round(_p95(http), 2),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _deep_page(store, index, query: SearchQuery, pages: int = 100) -> tuple[float, int]:
    """Follow the newest-first cursor ``pages`` pages deep; the time of the last page."""
    after, ms, depth = None, 0.0, 0
    for _ in range(pages):
        page_query = SearchQuery(text=query.text, sort="newest", after=after)
        ms, page = _timed(lambda q=page_query: search(store, index, q))
        depth += len(page.hits)
        if page.next_after is None:
            break
        after = page.next_after
    return ms, depth


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def corpus_texts(data_dir: Path, limit: int) -> list[str]:
    """The first ``limit`` non-empty post texts of the real Weibo corpus, as the importer reads them."""
    files = sorted((data_dir / "weibo_covid_2020").glob("*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no corpus at {data_dir / 'weibo_covid_2020'} (set CRISISWATCH_DATA)")
    texts: list[str] = []
    for path in files:
        with gzip.open(path, "rt", encoding=detect_encoding(path), errors="replace", newline="") as handle:
            texts.extend(row["text"] for row in csv.DictReader(handle) if row.get("text"))
        if len(texts) >= limit:
            break
    return texts[:limit]


def bench_nlp(settings: Settings, limit: int, say=print) -> dict:
    """Tag ``limit`` real posts with the full default pipeline, in one process, and time it."""
    from nlp.pipeline import build_pipeline, collector_spared, model_version

    texts = corpus_texts(settings.data_dir, limit)
    segment.configure(settings.cache_dir)
    nlp = build_pipeline(settings.models_dir)
    list(nlp.pipe(texts[:200]))  # load the dictionary and the models before the clock starts
    say(f"tagging {len(texts)} posts with {model_version(nlp)}")
    reset_peak_rss()
    start = time.perf_counter()
    with collector_spared():  # as the tag stage runs it
        for _ in nlp.pipe(texts, batch_size=1000):
            pass
    seconds = time.perf_counter() - start
    return {
        "posts": len(texts),
        "posts_per_s": round(len(texts) / seconds),
        "chars_per_s": round(sum(map(len, texts)) / seconds),
        "peak_rss_mb": round(peak_rss_mb()),
        "models": model_version(nlp),
    }


ARTICLES_PER_LIST = 50
LIST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>新闻列表 第{number}页</title></head>
<body><nav><a href="/list/1.html">首页</a></nav><h1>新闻列表 第{number}页</h1>
<ul>
{links}
</ul>
<footer>crisiswatch bench crawl: a loopback site of real Weibo posts</footer></body></html>
"""
ARTICLE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav><a href="/{back}">返回列表</a></nav>
<article><h1>{title}</h1><p>{text}</p></article>
<footer>crisiswatch bench crawl: a loopback site of real Weibo posts</footer></body></html>
"""


def write_site(root: Path, texts: list[str]) -> list[str]:
    """List pages linking ``ARTICLES_PER_LIST`` article pages each, one post per article; the list pages' paths."""
    (root / "list").mkdir(parents=True)
    (root / "news").mkdir()
    lists = []
    for start in range(0, len(texts), ARTICLES_PER_LIST):
        back = f"list/{len(lists) + 1}.html"
        links = []
        for number, text in enumerate(texts[start:start + ARTICLES_PER_LIST], start=start + 1):
            title = html.escape(text[:24])
            (root / f"news/{number:06d}.html").write_text(
                ARTICLE_PAGE.format(title=title, text=html.escape(text), back=back), encoding="utf-8")
            links.append(f'<li><a href="/news/{number:06d}.html">{title}</a></li>')
        (root / back).write_text(LIST_PAGE.format(number=len(lists) + 1, links="\n".join(links)), encoding="utf-8")
        lists.append(back)
    return lists


def bench_crawl(data_dir: Path, pages: int, say=print) -> dict:
    """Crawl a loopback site of ``pages`` real posts (one per article page) as `crisiswatch crawl` does.

    The crawl runs in a child process (Twisted's reactor starts once per process), with
    the politeness limits lifted for loopback; speed is taken from its crawl run record
    (process start-up excluded), memory from the child's peak resident set.
    """
    texts = corpus_texts(data_dir, math.ceil(pages / ARTICLES_PER_LIST) * ARTICLES_PER_LIST)
    folder = Path(tempfile.mkdtemp(prefix="crisiswatch-bench-"))
    try:
        lists = write_site(folder / "site", texts)
        say(f"wrote a site of {len(lists)} list pages and {len(texts)} article pages of real posts")
        server, base = serve_directory(folder / "site")
        database_url = f"sqlite:///{folder / 'crawl.db'}"
        overrides = {"AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 32,
                     "CONCURRENT_REQUESTS_PER_DOMAIN": 32, "DEPTH_LIMIT": 2, "LOG_LEVEL": "WARNING"}
        command = [sys.executable, "-m", "crisiswatch", "crawl", "--home", str(folder / "home"), "--store-only",
                   "--spider", "news", "-a", "start_urls=" + ",".join(f"{base}/{path}" for path in lists),
                   *(arg for name, value in overrides.items() for arg in ("-s", f"{name}={value}"))]
        say(f"crawling {len(lists) + len(texts)} pages with the news spider in a child process")
        try:
            crawl = subprocess.run(command, env={**os.environ, "CRISISWATCH_DATABASE_URL": database_url},
                                   stdout=subprocess.PIPE, text=True, check=True)
        finally:
            server.shutdown()
        say(crawl.stdout.strip())
        store = Store(database_url)
        run = store.last_crawl_runs()[0]
        store.close()
        elapsed = datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
        return {
            "pages": run["pages"],
            "pages_per_s": round(run["pages"] / elapsed.total_seconds()),
            "stored": run["stored"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def corpus_files(settings: Settings) -> list[Path]:
    """The files of the Weibo corpus that the benchmarks read."""
    files = sorted((settings.data_dir / "weibo_covid_2020").glob("*.csv.gz"))
    if not files:
        raise FileNotFoundError(f"no corpus at {settings.data_dir / 'weibo_covid_2020'} (set CRISISWATCH_DATA)")
    return files


@contextmanager
def scratch_home(settings: Settings):
    """A temporary home for a benchmark, removed afterwards, with its settings and its open
    store: always its own SQLite store and embedded index (whatever the environment names),
    and a copy of this home's models, so that tagging uses them."""
    from crisiswatch import stages

    home = Path(tempfile.mkdtemp(prefix="crisiswatch-bench-"))
    try:
        bench_settings = Settings.load(home, database_url=f"sqlite:///{home / 'crisiswatch.db'}",
                                       index_backend="embedded", data_dir=settings.data_dir)
        if settings.models_dir.is_dir():
            shutil.copytree(settings.models_dir, bench_settings.models_dir)
        store = stages.open_store(bench_settings)
        try:
            yield bench_settings, store
        finally:
            store.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def bench_import(settings: Settings, limit: int | None, say=print) -> dict:
    """From files to searchable: import the Weibo corpus (or its first ``limit`` posts)
    into a temporary home (``scratch_home``), then tag and index it as `crisiswatch import`,
    `tag` and `index` do, each stage timed, model loading included."""
    from crisiswatch import stages

    files = corpus_files(settings)
    with scratch_home(settings) as (bench_settings, store):
        say("importing the corpus" if limit is None else f"importing the corpus's first {limit} posts")
        reset_peak_rss()
        import_ms, report = _timed(lambda: import_files(store, files, limit=limit))
        import_peak = peak_rss_mb()
        posts = report.imported
        say(f"tagging {posts} posts")
        tag_ms, _ = _timed(lambda: stages.tag(bench_settings, store, quiet=True))
        say(f"indexing {posts} posts")
        index_ms, _ = _timed(lambda: stages.index(bench_settings, store, quiet=True))
    return {
        "posts": posts,
        "import_posts_per_s": round(posts / (import_ms / 1000)),
        "tag_posts_per_s": round(posts / (tag_ms / 1000)),
        "index_posts_per_s": round(posts / (index_ms / 1000)),
        "import_s": round(import_ms / 1000, 1),
        "tag_s": round(tag_ms / 1000, 1),
        "index_s": round(index_ms / 1000, 1),
        "total_s": round((import_ms + tag_ms + index_ms) / 1000, 1),
        "import_peak_rss_mb": round(import_peak),
        "peak_rss_mb": round(peak_rss_mb()),
    }
