"""A home whose posts name real and fictional places, tagged by the real gazetteer
(``nlp.places``) and indexed by the embedded index: for the map's tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jieba

from core.schema import Tags, make_post
from core.settings import Settings
from core.store import Store
from indexes.backends import open_index
from indexes.indexer import index_pending
from nlp.places import gazetteer

TEXTS = (["武汉市武昌区停电了"] * 3 + ["北京朝阳区停电，地铁照常"] * 2
         + ["海口市琼山区停电抢修中"]
         + ["滨海市东湖区停电，台风过境"] * 2  # a fictional city: no code, off the map
         + ["四川和重庆都在限电"])  # two provinces in one post; not a 停电 post
QUERY = "停电"  # finds all but the last: 8 posts, 6 of them in a province on the map
# where the posts of QUERY are, with each place's lineage
PROVINCES = {"420000": 3, "110000": 2, "460000": 1}
HUBEI = {"420100": 3, "420106": 3}


def home_with_places(folder) -> Settings:
    settings = Settings.load(home=folder, database_url=f"sqlite:///{folder / 'crisiswatch.db'}",
                             index_backend="embedded").ensure_home()
    store = Store(settings.database_url)
    start = datetime.now(timezone.utc) - timedelta(hours=len(TEXTS))
    store.upsert_posts([make_post(platform="weibo", platform_id=f"p{n}", text=text + "!" * n,
                                  created_at=start + timedelta(hours=n)) for n, text in enumerate(TEXTS)])
    stored = store.get_posts(range(1, len(TEXTS) + 1)).values()
    store.save_tags([Tags(post["id"], 0.1, "anxiety", 0.6, ["outage_report"], "place-test", emotion="fear",
                          places=gazetteer().find(jieba.lcut(post["text"]))[0]) for post in stored])
    assert index_pending(store, open_index(settings)) == len(TEXTS)
    store.close()
    return settings
