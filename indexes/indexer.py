"""The index stage: bring an index (any backend) up to date with the store of record.

Posts are read in id order and written to the index; after each commit the store
records the revision each post was indexed at. A kill before the commit loses nothing
(the posts are still pending); a kill after it re-indexes a few posts, and ``replace``
overwrites their earlier copies, so every post is in the index exactly once.

One index run at a time per home, across processes (``index_lock``): a run that indexed
pending posts into the version a concurrent rebuild was about to replace would have
marked them indexed, and the rebuilt version would not hold them.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from core.store import Store

if TYPE_CHECKING:
    from indexes.backends import IndexBackend

# A kill redoes at most this many posts. Each commit stalls the writer while it writes
# its segment: 10,000 posts per commit was a third slower (see embedded.HEAP for memory).
COMMIT_EVERY = 50_000


def _write(store: Store, index: IndexBackend, pending_only: bool, batch_size: int, progress) -> int:
    done, after = 0, 0
    uncommitted: list[tuple[int, int]] = []
    while posts := store.posts_to_index(after, batch_size, pending_only=pending_only):
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
    return done


def index_pending(store: Store, index: IndexBackend, batch_size: int = 2000, progress=None) -> int:
    try:
        return _write(store, index, True, batch_size, progress)
    finally:
        index.close()


def rebuild(store: Store, index: IndexBackend, batch_size: int = 2000, progress=None) -> int:
    """Index every post into a new index version, then switch searches to it at once.

    Posts that change during the rebuild keep a newer revision than the one recorded,
    so the next ``index_pending`` brings them into the new version.
    """
    index.start_rebuild()
    try:
        done = _write(store, index, False, batch_size, progress)
    except BaseException:
        index.abandon_rebuild()  # a rebuild stopped by a full disk must not keep its half
        raise
    index.finish_rebuild()
    return done


@contextmanager
def index_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (created if missing) while indexing; calls
    ``on_wait`` once when another process holds it, then waits for it. The lock goes
    with its holder's process, however that ends."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
