"""The spread trees rebuilt from a store of imported CED posts against the data's own
parent links (real importer, real SQLite store, the real CED file where ../shared has it)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from sqlalchemy import func, select

from core.store import PostRow, Store
from crisiswatch.importer import import_files
from desk.spread import spread_of_post


def parent_matches(store: Store, path: Path) -> tuple[int, int]:
    """(reposts whose parent in the rebuilt tree is the data's parent, reposts stored).

    A CED repost's ``parent`` is the repost it reposted, or empty for the post itself; a
    repost met again in a later record was stored with its first record's link."""
    parents, roots = {}, []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for record in map(json.loads, lines):
            roots.append(record["id"])
            for repost in record.get("reposts") or []:
                parents.setdefault(repost["mid"], repost["parent"] or record["id"])
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(PostRow.platform_id, PostRow.id).where(PostRow.platform_id.in_(roots))).all())
        stored = conn.execute(select(func.count()).where(PostRow.kind == "repost")).scalar_one()
    matched = set()
    for root in roots:
        tree = spread_of_post(store, ids[root])
        matched.update(node.platform_id for node in tree.nodes.values() if node.kind == "repost"
                       and tree.nodes[node.parent].platform_id == parents[node.platform_id])
    return len(matched), stored


def test_the_trees_match_the_ced_parent_links(tmp_path, ced_slice):
    store = Store(f"sqlite:///{tmp_path / 'ced.db'}")
    import_files(store, [ced_slice])
    matched, stored = parent_matches(store, ced_slice)
    print(f"CED sample: {matched} of {stored} reposts under their own parent")
    assert stored > 1000 and matched / stored >= 0.95
    store.close()
