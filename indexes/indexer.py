"""The index stage: bring an index (any backend) up to date with the store of record.

Posts are read in id order and written to the index; after each commit the store
records the revision each post was indexed at. A kill before the commit loses nothing
(the posts are still pending); a kill after it re-indexes a few posts, and ``replace``
overwrites their earlier copies, so every post is in the index exactly once.

Tokenising the texts is the largest part of the work done in Python. When many posts are
pending, a worker process tokenises the next batches while this one reads the store and
hands documents to the index, so that the two cores are both at work.
"""

from __future__ import annotations

from collections import deque
from multiprocessing import get_context

from core.store import Store
from indexes.documents import analysed_texts, full_text

# A commit writes a segment, and many small segments cost merges: 10,000 posts per commit
# took a quarter more CPU than 50,000. A kill redoes at most this many posts.
COMMIT_EVERY = 50_000
PARALLEL_FROM = 20_000  # pending posts: below this, starting the worker costs more than it saves
AHEAD = 2  # batches the worker may tokenise ahead of the writer (memory stays bounded)


def _batches(store: Store, pending_only: bool, batch_size: int):
    after = 0
    while posts := store.posts_to_index(after, batch_size, pending_only=pending_only):
        yield posts
        after = posts[-1]["id"]


def _analysed(batches, parallel: bool):
    """Each batch of posts with the text fields of its posts."""
    if not parallel:
        for posts in batches:
            yield posts, analysed_texts([full_text(p) for p in posts])
        return
    # spawn, not fork: this process may already run the index writer's threads
    with get_context("spawn").Pool(1) as pool:
        in_flight = deque()
        for posts in batches:
            in_flight.append((posts, pool.apply_async(analysed_texts, ([full_text(p) for p in posts],))))
            if len(in_flight) > AHEAD:
                posts, texts = in_flight.popleft()
                yield posts, texts.get()
        for posts, texts in in_flight:
            yield posts, texts.get()


def _write(store: Store, index, pending_only: bool, batch_size: int, progress, parallel: bool) -> int:
    done = 0
    uncommitted: list[tuple[int, int]] = []
    for posts, texts in _analysed(_batches(store, pending_only, batch_size), parallel):
        index.replace(posts, texts)
        uncommitted.extend((p["id"], p["rev"]) for p in posts)
        done += len(posts)
        if len(uncommitted) >= COMMIT_EVERY:
            index.commit()
            store.mark_indexed(uncommitted)
            uncommitted = []
        if progress is not None:
            progress.update(len(posts))
    index.commit()
    store.mark_indexed(uncommitted)
    return done


def index_pending(store: Store, index, batch_size: int = 2000, progress=None,
                  parallel_from: int = PARALLEL_FROM) -> int:
    try:
        return _write(store, index, True, batch_size, progress, store.count_to_index() >= parallel_from)
    finally:
        index.close()


def rebuild(store: Store, index, batch_size: int = 2000, progress=None, parallel_from: int = PARALLEL_FROM) -> int:
    """Index every post into a new index version, then switch searches to it at once.

    Posts that change during the rebuild keep a newer revision than the one recorded,
    so the next ``index_pending`` brings them into the new version.
    """
    index.start_rebuild()
    try:
        done = _write(store, index, False, batch_size, progress, store.count_posts() >= parallel_from)
    except BaseException:
        index.close()
        raise
    index.finish_rebuild()
    return done
