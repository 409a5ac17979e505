"""The embedded index (the default): Tantivy in the home folder, no server.

Text is indexed under the fine-grained terms of ``core.segment.index_terms``, joined by
blanks and split again by Tantivy's whitespace tokenizer. Facet fields are raw keyword
fields with fast columns, so counts come from Tantivy's terms aggregation. The index
holds no post text: results are read from the store of record by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import tantivy

from core import segment
from core.schema import CHINA_TZ
from indexes.query import FACETS, RUMOR_THRESHOLD, SearchQuery

MAX_TERM_CHARS = 64
FACET_SIZE = 50
MAX_DAYS = 400


class IndexLocked(RuntimeError):
    """Another process holds the index writer."""


@dataclass
class RawResult:
    total: int
    hits: list[tuple[int, float]]  # (post id, score or sort key)
    facets: dict[str, list[tuple[str, int]]]
    days: list[tuple[str, int]]


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name="whitespace")
    for name in ("platform", "sentiment", "topics", "rumor", "day"):
        builder.add_text_field(name, tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_date_field("time", indexed=True, fast=True)
    builder.add_integer_field("engagement", fast=True)
    return builder.build()


def post_time(post: dict) -> datetime:
    return post["created_at"] or post["stored_at"]


def to_document(post: dict) -> tantivy.Document:
    text = f"{post['title']}\n{post['text']}" if post.get("title") else post["text"]
    terms = [t for t in segment.index_terms(text) if len(t) <= MAX_TERM_CHARS]
    when = post_time(post)
    doc = tantivy.Document()
    doc.add_integer("id", post["id"])
    doc.add_text("text", " ".join(terms))
    doc.add_text("platform", post["platform"])
    doc.add_date("time", when)
    doc.add_text("day", when.astimezone(CHINA_TZ).strftime("%Y-%m-%d"))
    doc.add_integer("engagement", post["reposts_count"] + post["comments_count"] + post["likes_count"])
    tags = post.get("tags")
    if tags:
        doc.add_text("sentiment", tags["sentiment"])
        doc.add_text("rumor", "likely" if tags["rumor_prob"] >= RUMOR_THRESHOLD else "unlikely")
        for topic in tags["topics"]:
            doc.add_text("topics", topic)
    return doc


class EmbeddedIndex:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self._writer = None

    # -- writing -----------------------------------------------------------------------

    def writer(self):
        if self._writer is None:
            try:
                self._writer = self.index.writer(heap_size=128_000_000, num_threads=1)
            except ValueError as err:
                raise IndexLocked(
                    f"the index at {self.path} is being written by another process "
                    "(is `crisiswatch demo` or another `crisiswatch index` running?); stop it or wait"
                ) from err
        return self._writer

    def replace(self, posts: list[dict]) -> None:
        """Add posts, replacing any earlier version of each (so each is in the index once)."""
        writer = self.writer()
        for post in posts:
            writer.delete_documents_by_term("id", post["id"])
            writer.add_document(to_document(post))

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()

    def clear(self) -> None:
        self.writer().delete_all_documents()
        self.commit()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None

    # -- reading -----------------------------------------------------------------------

    def num_docs(self) -> int:
        self.index.reload()
        return self.index.searcher().num_docs

    def count_id(self, post_id: int) -> int:
        self.index.reload()
        return self.index.searcher().search(tantivy.Query.term_query(self.schema, "id", post_id), limit=1).count

    def _filters(self, query: SearchQuery) -> list[tantivy.Query]:
        must = []
        for field, values in (("platform", query.platforms), ("sentiment", query.sentiments), ("topics", query.topics)):
            if values:
                must.append(tantivy.Query.term_set_query(self.schema, field, list(values)))
        if query.rumor:
            must.append(tantivy.Query.term_query(self.schema, "rumor", "likely"))
        if query.since or query.until:
            must.append(
                tantivy.Query.range_query(
                    self.schema, "time", tantivy.FieldType.Date,
                    query.since.astimezone(timezone.utc) if query.since else None,
                    query.until.astimezone(timezone.utc) if query.until else None,
                )
            )
        return must

    def search(self, query: SearchQuery) -> RawResult:
        must = [tantivy.Query.term_query(self.schema, "text", term) for term in query.terms]
        must += self._filters(query)
        if not must:
            tq = tantivy.Query.all_query()
        else:
            tq = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in must])
        self.index.reload()
        searcher = self.index.searcher()
        offset = (query.page - 1) * query.per_page
        if query.sort == "newest" or not query.terms:
            result = searcher.search(tq, limit=query.per_page, offset=offset, order_by_field="time", order=tantivy.Order.Desc)
        else:
            result = searcher.search(tq, limit=query.per_page, offset=offset)
        hits = [(searcher.doc(address)["id"][0], key) for key, address in result.hits]
        aggs = {name: {"terms": {"field": name, "size": FACET_SIZE}} for name in FACETS}
        aggs["day"] = {"terms": {"field": "day", "size": MAX_DAYS, "order": {"_key": "asc"}}}
        buckets = searcher.aggregate(tq, aggs) if result.count else {}
        facets = {
            name: [(b["key"], b["doc_count"]) for b in buckets.get(name, {}).get("buckets", [])] for name in FACETS
        }
        days = [(b["key"], b["doc_count"]) for b in buckets.get("day", {}).get("buckets", [])]
        return RawResult(total=result.count, hits=hits, facets=facets, days=days)
