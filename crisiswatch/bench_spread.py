"""``crisiswatch bench spread``: how fast the spread page of a large near-duplicate
cluster answers (target: a cluster of 5,000 posts in under 2 s).

In a temporary home, one rumor's text is posted and reposted (each repost of an earlier
copy) ``size`` times, one cluster, and as many comments answer the copies; the page
``/spread/cluster/<cluster>`` is then fetched over HTTP, logged in as an analyst, and
``desk.spread.spread_of_cluster`` timed alone.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime, timedelta, timezone

from core.schema import make_post
from core.settings import Settings
from crisiswatch.bench import SEED, _p95, scratch_home, ui_server
from desk.spread import spread_of_cluster

RUMOR = "听说水库要溃坝了，快转！"
ROUNDS = 20


def rumor_cluster(size: int, rng: random.Random, text: str = RUMOR) -> list:
    """``size`` copies of one rumor's ``text`` (the first fifth posted, the rest reposts of an
    earlier copy) and ``size`` comments on them."""
    start = datetime(2024, 7, 25, tzinfo=timezone.utc)
    sources = max(1, size // 5)
    copies = [make_post(platform="weibo", platform_id=f"c{n}", kind="repost" if n >= sources else "post",
                        parent_id=f"c{rng.randrange(n)}" if n >= sources else None, author_name=f"网友{n % 700}",
                        text=text, created_at=start + timedelta(seconds=30 * n)) for n in range(size)]
    comments = [make_post(platform="weibo", platform_id=f"m{n}", parent_id=f"c{rng.randrange(size)}", kind="comment",
                          text=f"真的假的？第{n}条评论", created_at=start + timedelta(days=2, seconds=n))
                for n in range(size)]
    return copies + comments


def bench_spread(settings: Settings, size: int, say=print) -> dict:
    with scratch_home(settings) as (bench_settings, store):
        say(f"storing a cluster of {size} posts and {size} comments")
        store.upsert_posts(rumor_cluster(size, random.Random(SEED)))
        cluster = store.get_post(1)["cluster"]
        desk_ms = []
        for _ in range(ROUNDS):
            began = time.perf_counter()
            found = spread_of_cluster(store, cluster)
            desk_ms.append((time.perf_counter() - began) * 1000)
        page_ms = []
        with ui_server(bench_settings, store) as (base, opener):
            for _ in range(ROUNDS):
                began = time.perf_counter()
                opener.open(f"{base}/spread/cluster/{cluster}", timeout=60).read()
                page_ms.append((time.perf_counter() - began) * 1000)
    return {
        "cluster_posts": size,
        "tree_posts": len(found.nodes),
        "spread_ms_p50": round(statistics.median(desk_ms), 1),
        "page_ms_p50": round(statistics.median(page_ms), 1),
        "page_ms_p95": round(_p95(page_ms), 1),
    }
