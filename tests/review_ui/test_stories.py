"""Emerging stories: bursting words grow into labelled clusters; the page lists them."""

import re
from datetime import datetime, timedelta, timezone
from html import unescape

from core.schema import make_post
from core.settings import Settings
from core.store import Store
from nlp.stories import emerging_stories
from review_ui import create_app
from tests.conftest import logged_in_client

NOW = datetime(2024, 8, 1, 12, 0, tzinfo=timezone.utc)
USUAL = ["今天天气很热，空调开了一整天", "晚饭吃什么好呢", "下班路上堵车了", "周末去公园散步"]
BLAST = ["城东变电站爆炸了，火光冲天", "变电站爆炸，城东一片漆黑", "听到巨响，原来是变电站爆炸",
         "城东变电站爆炸有人受伤吗", "变电站爆炸后整个城东停电"]
QUEUE = ["供电营业厅排长队交电费", "营业厅排队两小时还没交上电费", "营业厅排队的人太多了"]


def _recent(texts, start_id=1):
    return [(start_id + i, text, NOW - timedelta(minutes=i)) for i, text in enumerate(texts)]


def test_bursting_words_become_stories_labelled_with_their_words():
    recent = _recent(BLAST + QUEUE + USUAL[:2])
    stories = emerging_stories(recent, baseline=USUAL * 20 + ["营业厅今天人不多"])
    assert [story.keywords[0] for story in stories] == ["变电站", "营业厅"]
    blast, queue = stories
    assert {"变电站", "爆炸", "城东"} <= set(blast.keywords) and blast.post_ids == [1, 2, 3, 4, 5]
    assert blast.first_seen == NOW - timedelta(minutes=4) and blast.last_seen == NOW
    assert set(queue.post_ids) == {6, 7, 8}
    assert not set(blast.post_ids) & set(queue.post_ids)  # a post is in one story


def test_what_the_baseline_already_talked_about_is_not_new():
    recent = _recent(BLAST)
    assert emerging_stories(recent, baseline=BLAST * 10) == []
    assert emerging_stories(_recent(BLAST[:2]), baseline=USUAL) == []  # too few posts for a story


def test_stories_page_lists_stories_of_the_window_before_the_newest_post(tmp_path):
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    store = Store(settings.database_url)
    posts = [make_post(platform="weibo", platform_id=f"u{i}", text=text, created_at=NOW - timedelta(hours=5, minutes=i))
             for i, text in enumerate(USUAL * 5)]
    posts += [make_post(platform="weibo", platform_id=f"b{i}", text=text + (" <script>alert(1)</script>" if i == 0 else ""),
                        created_at=NOW - timedelta(minutes=10 * i)) for i, text in enumerate(BLAST)]
    store.upsert_posts(posts)
    client = logged_in_client(create_app(settings, store=store))
    page = client.get("/stories/").get_data(as_text=True)
    assert "正在发酵的话题" in page and "5 条帖子" in page and "变电站 · 爆炸" in page
    assert "2024-08-01 19:00 至 2024-08-01 20:00" in page  # the hour up to the newest post, China time
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert re.search(r'href="/spread/\d+">传播路径', page)  # each sample's spread
    assert "since=2024-08-01T19:00" in page and "q=%E5%8F%98%E7%94%B5%E7%AB%99" in page  # search link: 变电站
    english = client.get("/stories/?window=24&lang=en").get_data(as_text=True)
    assert "Emerging stories" in english and "Last 24 hours" in english
    assert client.get("/stories/?window=7").status_code == 400
    link = re.search(r'<h2><a href="([^"]+)"', page).group(1)
    assert client.get(unescape(link)).status_code == 200  # the search page takes the link's parameters


def test_a_new_feed_without_a_baseline_still_shows_its_stories():
    [story] = emerging_stories(_recent(BLAST + USUAL), baseline=[])
    assert story.keywords[0] == "变电站" and len(story.post_ids) == 5


def test_many_bursting_words_take_no_scan_of_every_post_each():
    """A page's worth of recent posts with thousands of bursting words (a corpus sample
    newer than any feed): each seed's posts are looked up, not found by a scan of all
    posts per seed (1.4 s of the page on the demo's sample; 6 s here before)."""
    import time

    recent = _recent([f"w{n % 4000}x w{(n * 7 + 1) % 4000}x w{(n * 13 + 2) % 4000}x" for n in range(10_000)])
    start = time.perf_counter()
    stories = emerging_stories(recent, baseline=["平常的一天"] * 20_000)  # every word above is new: bursting
    assert time.perf_counter() - start < 1.5
    assert len(stories) == 10 and all(len(story.post_ids) >= 3 for story in stories)
