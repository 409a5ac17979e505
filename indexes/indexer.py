"""The index stage: bring the index up to date with the store of record.

Posts are read in id order and written to the index; after each commit the store
records the revision each post was indexed at. A kill before the commit loses nothing
(the posts are still pending); a kill after it re-indexes a few posts, and ``replace``
deletes their earlier copies first, so every post is in the index exactly once.
"""

from __future__ import annotations

from core.store import Store
from indexes.embedded import EmbeddedIndex

COMMIT_EVERY = 10_000


def index_pending(store: Store, index: EmbeddedIndex, batch_size: int = 2000, progress=None) -> int:
    done, after = 0, 0
    uncommitted: list[tuple[int, int]] = []
    try:
        while True:
            posts = store.posts_to_index(after, batch_size)
            if not posts:
                break
            index.replace(posts)
            uncommitted.extend((p["id"], p["rev"]) for p in posts)
            after = posts[-1]["id"]
            done += len(posts)
            if len(uncommitted) >= COMMIT_EVERY:
                index.commit()
                store.mark_indexed(uncommitted)
                uncommitted = []
            if progress is not None:
                progress.update(len(posts))
        index.commit()
        store.mark_indexed(uncommitted)
    finally:
        index.close()
    return done


def rebuild(store: Store, index: EmbeddedIndex, batch_size: int = 2000, progress=None) -> int:
    """Empty the index and index every post again from the store."""
    index.clear()
    store.forget_index()
    return index_pending(store, index, batch_size, progress)
