"""The review UI says which tier a post's sentiment, emotion and polarity came from: a
badge 精 (precise) or 快 (fast) on the results and the post page, in both languages."""

from __future__ import annotations

import re

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from indexes.embedded import EmbeddedIndex
from indexes.indexer import index_pending
from review_ui import create_app
from tests.conftest import html, logged_in_client

PRECISE = {"sentiment": "anger", "sentiment_score": 0.8, "emotion": "anger", "emotion_score": 0.7,
           "emotion_scores": {"anger": 0.7, "fear": 0.3}, "polarity": "negative", "polarity_score": 0.8,
           "model_version": "sentiment:tiny|emotion:tiny"}


def badges(page: str) -> list[str]:
    return re.findall(r'<li class="tag tag-tier tag-(\w+)" title="[^"]*">([^<]*)</li>', page)


def test_results_and_the_post_page_show_each_posts_tier(tmp_path):
    settings = Settings.load(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'crisiswatch.db'}",
                             index_backend="embedded")
    store = Store(settings.database_url)
    store.upsert_posts([make_post(platform="weibo", platform_id="a", text="龙华区又停电了，太气人了",
                                  created_at="2024-07-30T10:00:00"),
                        make_post(platform="weibo", platform_id="b", text="担心美兰区明天还停电",
                                  created_at="2024-07-30T09:00:00")])
    retagged, fast = (post_id for post_id, _ in store.posts_to_tag(0, 10))
    store.save_tags([Tags(post_id, 0.1, "anxiety", 0.9, [], "test-model") for post_id in (retagged, fast)])
    store.save_precise_tags([{"post_id": retagged, **PRECISE}])
    index_pending(store, EmbeddedIndex(settings.index_dir))
    store.close()
    client = logged_in_client(create_app(settings))

    results = html(client.get("/?q=停电&sort=newest"))
    assert badges(results) == [("precise", "精"), ("fast", "快")]  # the newest (re-tagged) first
    assert badges(html(client.get("/?sentiment=anger"))) == [("precise", "精")]

    page = html(client.get(f"/posts/{retagged}"))
    assert re.search(r"<dt>标注层级</dt><dd><span class=\"tag tag-tier tag-precise\" title=\"[^\"]*\">精</span>", page)
    assert "愤怒" in page
    assert re.search(r'tag-tier tag-fast" title="[^"]*">快<', html(client.get(f"/posts/{fast}")))
    # the language is kept from here on
    assert badges(html(client.get("/?q=停电&sort=newest&lang=en"))) == [("precise", "Precise"), ("fast", "Fast")]
