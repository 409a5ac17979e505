"""Emerging stories: what the latest posts talk about that the posts before them did not.

A word *bursts* when the share of recent posts that use it is well above its share in
the baseline before. The baseline share is smoothed towards a prior of 1 % over
``PRIOR_POSTS`` pseudo-posts, so that a new feed with little or no baseline still shows
its stories while a real baseline of thousands of posts speaks for itself. Stories are grown greedily from the strongest
bursting words: a story is the recent posts that use its seed word and are not yet in a
stronger story (a seed that lost most of its posts to one is no story of its own),
labelled with the bursting words most of those posts share; the largest and most
sudden come first. The result
is plain and explainable to an analyst (these words, this many posts, since then), and
fast enough to compute on each visit to the page for thousands of posts.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from core import segment

MIN_POSTS = 3  # a story needs this many recent posts
MIN_BURST = 3.0  # and its seed word this many times its baseline share
PRIOR_POSTS, PRIOR_SHARE = 20, 0.01
MAX_KEYWORDS = 5
# Words too common in any crisis chatter to name a story.
STOPWORDS = frozenset("""
我们 你们 他们 自己 什么 怎么 这个 那个 这样 就是 还是 没有 可以 一个 现在 今天 已经 大家 真的 不是
知道 时候 因为 所以 但是 如果 还有 一下 这么 那么 一起 微博 转发 全文 网页 链接 视频 回复 评论
""".split())


@dataclass
class Story:
    keywords: list[str]
    post_ids: list[int]  # newest first
    first_seen: datetime
    last_seen: datetime
    burst: float  # how many times its seed word's baseline share
    samples: list[int] = field(default_factory=list)


# A page visit reads up to 25,000 texts, mostly the same as the visit before: segmenting
# them again took seconds while the tag stage held the cores, so each text's words are kept,
# as a tuple of shared strings (30,000 posts: 94 MB as sets of their own strings, 14 MB as these).
@lru_cache(maxsize=30_000)
def _words(text: str) -> tuple[str, ...]:
    """The distinct words of ``text`` that may name a story."""
    return tuple(dict.fromkeys(sys.intern(w) for w in segment.words(segment.cut(text))
                               if len(w) >= 2 and w not in STOPWORDS and not w.isdigit()))


def emerging_stories(recent: list[tuple[int, str, datetime]], baseline: list[str], limit: int = 10) -> list[Story]:
    """Stories among ``recent`` (id, text, time) posts, judged against the ``baseline`` texts."""
    words = {post_id: _words(text) for post_id, text, _ in recent}
    times = {post_id: when for post_id, _, when in recent}
    using: dict[str, list[int]] = {}  # word -> the posts that use it, in the order of ``recent``
    for post_id, post_words in words.items():
        for word in post_words:
            using.setdefault(word, []).append(post_id)
    now_df = Counter({word: len(posts) for word, posts in using.items()})
    before_df = Counter(w for text in baseline for w in _words(text))
    n_now, n_before = len(recent), len(baseline)

    def burst(word: str) -> float:
        before = (before_df[word] + PRIOR_SHARE * PRIOR_POSTS) / (n_before + PRIOR_POSTS)
        return ((now_df[word] + 1) / (n_now + 1)) / before

    bursting = {w: burst(w) for w, df in now_df.items() if df >= MIN_POSTS and burst(w) >= MIN_BURST}
    seeds = sorted(bursting, key=lambda w: (now_df[w] * math.log(bursting[w]), w), reverse=True)
    taken: set[int] = set()
    stories: list[Story] = []
    for seed in seeds:
        members = [p for p in using[seed] if p not in taken]  # not a scan of every post per seed: 1.4 s of a page
        if len(members) < max(MIN_POSTS, now_df[seed] / 2):  # most of its posts are in a stronger story
            continue
        shared = Counter(w for p in members for w in words[p] if w in bursting)
        keywords = [w for w, n in sorted(shared.items(), key=lambda item: (-item[1], -bursting[item[0]], item[0]))
                    if n * 2 >= len(members)][:MAX_KEYWORDS]
        members.sort(key=lambda p: (times[p], p), reverse=True)
        taken.update(members)
        stories.append(Story(keywords=keywords, post_ids=members, first_seen=min(times[p] for p in members),
                             last_seen=max(times[p] for p in members), burst=round(bursting[seed], 1),
                             samples=members[:3]))
    stories.sort(key=lambda story: len(story.post_ids) * math.log(story.burst), reverse=True)
    return stories[:limit]
