"""The index backend a home uses: a setting chooses, the rest of the code does not care.

``IndexBackend`` names everything the rest of the code asks of an index; both engines
satisfy it (tests/indexes/test_index_contract.py checks their answers and their signatures).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from core.settings import Settings
from indexes.embedded import EmbeddedIndex
from indexes.query import SearchQuery
from indexes.results import RawResult

BACKENDS = ("embedded", "elasticsearch")


class IndexBackend(Protocol):
    backend: str  # one of BACKENDS

    def replace(self, posts: list[dict]) -> None:
        """Write posts, replacing any earlier copy of each (a post is in the index once)."""

    def commit(self) -> None:
        """Make what was written searchable."""

    def close(self) -> None:
        """Commit and let go of the writer."""

    def start_rebuild(self) -> None:
        """Write to a new, empty version until ``finish_rebuild``; searches keep the current one."""

    def abandon_rebuild(self) -> None:
        """Drop the version being rebuilt."""

    def finish_rebuild(self) -> None:
        """Switch searches to the rebuilt version at once and drop the old one."""

    def num_docs(self) -> int:
        """The posts in the index (raises IndexOutdated for an index of an older version)."""

    def count_id(self, post_id: int) -> int:
        """How many copies of a post the index holds (0 or 1)."""

    def count(self, query: SearchQuery) -> int:
        """How many posts match (the total of ``search``, without its page, facets and histogram)."""

    def search(self, query: SearchQuery) -> RawResult:
        """Ids of a page of matching posts, their facet counts and histogram."""

    def ids(self, query: SearchQuery, limit: int) -> Iterator[int]:
        """Ids of the first ``limit`` matching posts in the query's order, whatever page it
        names, fetched a chunk at a time (exports: each chunk costs the same however deep)."""


def open_index(settings: Settings) -> IndexBackend:
    if settings.index_backend == "embedded":
        return EmbeddedIndex(settings.index_dir)
    if settings.index_backend == "elasticsearch":
        from indexes.elastic import ElasticIndex

        return ElasticIndex(settings.elasticsearch_url)
    raise ValueError(f"unknown index backend {settings.index_backend!r} (CRISISWATCH_INDEX); use one of {', '.join(BACKENDS)}")
