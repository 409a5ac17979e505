"""The index backend a home uses: a setting chooses, the rest of the code does not care."""

from __future__ import annotations

from core.settings import Settings
from indexes.embedded import EmbeddedIndex

BACKENDS = ("embedded", "elasticsearch")


def open_index(settings: Settings):
    if settings.index_backend == "embedded":
        return EmbeddedIndex(settings.index_dir)
    if settings.index_backend == "elasticsearch":
        from indexes.elastic import ElasticIndex

        return ElasticIndex(settings.elasticsearch_url)
    raise ValueError(f"unknown index backend {settings.index_backend!r} (CRISISWATCH_INDEX); use one of {', '.join(BACKENDS)}")
