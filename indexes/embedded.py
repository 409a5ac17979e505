"""The embedded index (the default): Tantivy in the home folder, no server.

Tantivy was chosen over SQLite FTS5 for its speed on a million posts (see the README):
fast columns give sorting, range filters and facet counts without touching the store.
Each full rebuild writes a new version folder (``v1``, ``v2`` ...) and then points
``current`` at it, so searches never see a half-built index. The index holds no post
text: results are read back from the store of record by id.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

import tantivy

from core.store import INDEXED_CLUSTER_SIZES
from indexes.analysis import index_tokens, is_single_cjk
from indexes.documents import INTEGERS, KEYWORDS, to_fields
from indexes.errors import IndexLocked, IndexOutdated
from indexes.query import FACETS, Atom, SearchQuery
from indexes.results import FACET_SIZES, IDS_CHUNK, RawResult, facet_size, histogram_size

# The writer's memory budget: it flushes a segment when it is used up, and merges run
# beside the writer. With a commit every 50,000 posts, 611,184 posts took 99-102 us of CPU
# a post with 80 MB against 106-108 with 40 MB (peak 338 against 290-320 MB); 128 MB was
# no faster.
HEAP = 80_000_000
# Counting posts per string value costs time in proportion to the number of distinct values
# in each segment, whatever the query: 5.5 ms per page for the ~48,000 near-duplicate clusters
# of the corpus. Counted by a 64-bit number instead (0.5 ms), with the string stored to name
# the few clusters listed. ``segment_size`` makes the counts exact (each segment reports
# every value, not only its own top ones), here and for every facet below.
CLUSTER_SEGMENT_SIZE = 1_000_000
EXACT_SEGMENT_SIZE = 100_000  # more values than a facet of places or topics can have
# On a common word counting by number still took 5-6 ms (tens of thousands of clusters among
# 117,000 posts). The posts of large clusters carry their number a second time, and are
# counted first: when the tenth of them has at least LARGE_CLUSTER matching posts, no
# smaller cluster can reach the list (the store re-indexes a cluster that grows past it).
LARGE_CLUSTER = INDEXED_CLUSTER_SIZES[-1]
# The single-valued facets with few values are counted together, as one keyword that joins
# a post's values: one pass over the matching posts instead of five (the most common word:
# about 4 -> 1 ms of counting). Their own fields stay, indexed, for filtering.
COMBINED = ("platform", "verified", "polarity", "sentiment", "emotion", "rumor")
_JOIN = "\x1f"  # the unit separator: in no label
ALL_COMBINATIONS = 100_000  # more than the labels can combine into: every combination is counted
MAX_CLUSTER_NAMES = 100_000  # names looked up, kept (a number is read from its name: never stale)
# Facet counting dominates a result page on a million posts, and Tantivy releases the GIL
# while it aggregates: the clusters and the other facets are counted on two threads while
# the page is fetched.
_AGGREGATORS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crisiswatch-facets")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    builder.add_text_field("text", tokenizer_name="whitespace")
    for name in KEYWORDS:
        if name == "cluster":
            builder.add_text_field(name, tokenizer_name="raw", stored=True, index_option="basic")
            builder.add_unsigned_field("cluster_number", indexed=True, fast=True)
            builder.add_unsigned_field("large_cluster_number", fast=True)
        else:
            builder.add_text_field(name, tokenizer_name="raw", fast=name not in COMBINED, index_option="basic")
    builder.add_text_field("combined", tokenizer_name="raw", fast=True, index_option="basic")
    builder.add_date_field("time", indexed=False, fast=True)
    builder.add_float_field("rumor_prob", indexed=False, fast=True)
    for name in INTEGERS:
        builder.add_integer_field(name, indexed=False, fast=True)
    return builder.build()


class EmbeddedIndex:
    backend = "embedded"

    def __init__(self, path: Path):
        self.root = Path(path)
        self.root.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self._version = None
        self._index = None
        self._writer = None
        self._empty_at_open = False  # the writer's index had no documents when it was opened
        self._rebuild_version: str | None = None
        self._loaded = None  # (version, inode, mtime) of the meta.json the searcher was reloaded at
        self._cluster_names: dict[int, str] = {}  # cluster_number -> cluster, as listed in facets

    # -- versions ----------------------------------------------------------------------

    def _current(self) -> str:
        if (self.root / "meta.json").exists():  # the unversioned layout of crisiswatch 0.1
            raise IndexOutdated("old_layout", root=self.root)
        pointer = self.root / "current"
        if not pointer.exists():
            self._switch("v1")
        return pointer.read_text().strip()

    def _switch(self, version: str) -> None:
        (self.root / version).mkdir(exist_ok=True)
        tmp = self.root / f"current.{os.getpid()}.{threading.get_ident()}.tmp"  # each writer its own: a fresh
        # home's first jobs (the scheduler's index and alert jobs, the UI) all make the pointer at once
        tmp.write_text(version)
        tmp.replace(self.root / "current")  # atomic: readers see the old or the new version

    def _open(self, version: str) -> tantivy.Index:
        try:
            return tantivy.Index(self.schema, path=str(self.root / version), reuse=True)
        except ValueError as err:
            if "schema does not match" not in str(err):
                raise
            raise IndexOutdated("old_fields", root=self.root) from err

    @property
    def index(self) -> tantivy.Index:
        version = self._current()
        if version != self._version:
            self._index, self._version = self._open(version), version
        return self._index

    # -- writing -----------------------------------------------------------------------

    def _writer_for(self):
        if self._writer is None:
            target = self._open(self._rebuild_version) if self._rebuild_version else self.index
            target.reload()  # another process may have written since this one opened the index
            self._empty_at_open = target.searcher().num_docs == 0
            # One indexing thread: two indexed 611,184 posts 10 % faster but left twice the
            # segments, and every search reads every segment (median page 7 -> 8.4 ms).
            try:
                self._writer = target.writer(heap_size=HEAP, num_threads=1)
            except ValueError as err:
                raise IndexLocked("locked", root=self.root) from err
        return self._writer

    def replace(self, posts: list[dict]) -> None:
        """Add posts, replacing any earlier version of each (so each is in the index once).

        An index that was empty when the writer opened (a rebuild, a first run) has no
        earlier versions, and the index stage hands each post over once per run, so then
        nothing is deleted (deleting cost as much as a tenth of indexing)."""
        writer = self._writer_for()
        for post, fields in zip(posts, to_fields(posts)):
            if "cluster" in fields:
                fields["cluster_number"] = cluster_number(fields["cluster"])
                if post.get("copies", 1) >= LARGE_CLUSTER:
                    fields["large_cluster_number"] = fields["cluster_number"]
            fields["combined"] = _JOIN.join([fields.get(name, "") for name in COMBINED])
            if not self._empty_at_open:
                writer.delete_documents_by_term("id", fields["id"])
            # one call that converts every field by the schema, not a call per field
            writer.add_document(tantivy.Document.from_dict(fields, self.schema))

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None

    def start_rebuild(self) -> None:
        """Write to a new, empty version until ``finish_rebuild`` makes it current."""
        self.close()
        pointer = self.root / "current"
        current = pointer.read_text().strip() if pointer.exists() else "v0"
        versions = [p.name for p in self.root.glob("v*") if p.name[1:].isdigit()]
        for orphan in set(versions) - {current}:  # left by an interrupted rebuild
            shutil.rmtree(self.root / orphan)
        number = max(int(name[1:]) for name in [*versions, current]) + 1
        self._rebuild_version = f"v{number}"
        (self.root / self._rebuild_version).mkdir()

    def abandon_rebuild(self) -> None:
        """Drop the version being rebuilt; searches go on with the current one."""
        try:
            self.close()
        finally:
            if self._rebuild_version:
                shutil.rmtree(self.root / self._rebuild_version, ignore_errors=True)
                self._rebuild_version = None

    def finish_rebuild(self) -> None:
        self.close()
        old = (self.root / "current").read_text().strip() if (self.root / "current").exists() else None
        self._switch(self._rebuild_version)
        self._rebuild_version = None
        for path in self.root.iterdir():  # files of a 0.1 index lay directly in the root
            if path.is_file() and path.name != "current":
                path.unlink()
        if old and (self.root / old).exists():
            shutil.rmtree(self.root / old)

    # -- reading -----------------------------------------------------------------------

    def _searcher(self) -> tantivy.Searcher:
        """A searcher of the last commit. Reloading costs 0.3-0.5 ms, so it is done only when
        Tantivy's meta.json has been replaced (each commit writes a new one) since the last."""
        index = self.index
        meta = (self.root / self._version / "meta.json").stat()
        seen = (self._version, meta.st_ino, meta.st_mtime_ns)
        if seen != self._loaded:
            index.reload()
            self._loaded = seen
        return index.searcher()

    def num_docs(self) -> int:
        return self._searcher().num_docs

    def count_id(self, post_id: int) -> int:
        return self._searcher().search(tantivy.Query.term_query(self.schema, "id", post_id), limit=1).count

    def _substring(self, text: str) -> tantivy.Query:
        if is_single_cjk(text):  # a lone character: any pair that holds it, or itself
            return tantivy.Query.regex_query(self.schema, "text", f"{text}.?|.{text}")
        tokens = index_tokens(text)
        if len(tokens) == 1:
            return tantivy.Query.term_query(self.schema, "text", tokens[0])
        return tantivy.Query.phrase_query(self.schema, "text", tokens)

    def _atom(self, atom: Atom) -> tantivy.Query:
        parts = [self._substring(s) for s in atom.substrings]
        return parts[0] if len(parts) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])

    def _filters(self, query: SearchQuery) -> list[tantivy.Query]:
        must = []
        for name, values in (
            ("platform", query.platforms), ("polarity", query.polarities), ("sentiment", query.sentiments),
            ("emotion", query.emotions),
            ("topics", query.topics), ("places", query.places), ("cluster", query.clusters),
        ):
            if values:
                must.append(tantivy.Query.term_set_query(self.schema, name, list(values)))
        if query.verified is not None:
            must.append(tantivy.Query.term_query(self.schema, "verified", "yes" if query.verified else "no"))
        if query.rumor:
            must.append(tantivy.Query.term_query(self.schema, "rumor", "likely"))
        if query.rumor_min is not None or query.rumor_max is not None:
            must.append(tantivy.Query.range_query(self.schema, "rumor_prob", tantivy.FieldType.Float,
                                                  query.rumor_min, query.rumor_max))
        if query.since or query.until:
            must.append(tantivy.Query.range_query(
                self.schema, "time", tantivy.FieldType.Date,
                query.since.astimezone(timezone.utc) if query.since else None,
                query.until.astimezone(timezone.utc) if query.until else None,
            ))
        return must

    def _matching(self, query: SearchQuery) -> tantivy.Query:
        text = query.parsed
        clauses = []
        for group in text.all_of:
            atoms = [self._atom(a) for a in group]
            clauses.append((tantivy.Occur.Must, atoms[0] if len(atoms) == 1 else
                            tantivy.Query.boolean_query([(tantivy.Occur.Should, a) for a in atoms])))
        clauses += [(tantivy.Occur.Must, f) for f in self._filters(query)]
        clauses += [(tantivy.Occur.MustNot, self._atom(a)) for a in text.none_of]
        if not any(occur == tantivy.Occur.Must for occur, _ in clauses):
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        return tantivy.Query.boolean_query(clauses)

    def count(self, query: SearchQuery) -> int:
        return self._searcher().search(self._matching(query), limit=1).count

    def search(self, query: SearchQuery) -> RawResult:
        matching = self._matching(query)
        searcher = self._searcher()
        clusters = _AGGREGATORS.submit(_top_clusters, searcher, matching)
        counting = _AGGREGATORS.submit(searcher.aggregate, matching, _aggregations(query))
        if query.ranked:
            result = searcher.search(matching, limit=query.per_page, offset=query.offset)
            hits = [(searcher.doc(a)["id"][0], score) for score, a in result.hits]
            total = result.count
        else:
            total = searcher.search(matching, limit=1).count if query.after is not None else None
            page_query = self._below(matching, query.sort_key, query.after)
            # one more than a page: whether there is a next page, without another query
            result = searcher.search(page_query, limit=query.per_page + 1, offset=query.offset,
                                     order_by_field=query.sort_key, order=tantivy.Order.Desc)
            hits = [(searcher.doc(a)["id"][0], key) for key, a in result.hits]
            total = result.count if total is None else total
        buckets = counting.result()
        facets = {name: [(b["key"], b["doc_count"]) for b in buckets[name]["buckets"]]
                  for name in FACETS if name not in COMBINED and name != "cluster"}
        facets.update(_split_combined(buckets["combined"]["buckets"]))
        facets["cluster"] = self._name_clusters(searcher, clusters.result())
        histogram = sorted((b["key"], b["doc_count"]) for b in buckets.get(query.interval, {}).get("buckets", []))
        return RawResult.page_of(query, total, hits, facets, histogram)

    def _below(self, matching: tantivy.Query, sort_key: str, after: int | None) -> tantivy.Query:
        """The matching posts that follow the cursor ``after`` (all of them when None)."""
        if after is None:
            return matching
        cursor = tantivy.Query.range_query(self.schema, sort_key, tantivy.FieldType.Integer, None, after,
                                           include_upper=False)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, matching), (tantivy.Occur.Must, cursor)])

    def ids(self, query: SearchQuery, limit: int) -> Iterator[int]:
        """By newest or engagement: chunks that each follow the last one's sort key. By
        relevance: one search for the top ``limit`` (a score is no cursor), read by chunk."""
        matching = self._matching(query)
        searcher = self._searcher()
        if query.ranked:
            addresses = [address for _score, address in searcher.search(matching, limit=limit).hits]
            for start in range(0, len(addresses), IDS_CHUNK):
                yield from (searcher.doc(a)["id"][0] for a in addresses[start : start + IDS_CHUNK])
            return
        after = None
        while limit > 0:
            size = min(IDS_CHUNK, limit)
            hits = searcher.search(self._below(matching, query.sort_key, after), limit=size,
                                   order_by_field=query.sort_key, order=tantivy.Order.Desc).hits
            yield from (searcher.doc(a)["id"][0] for _key, a in hits)
            if len(hits) < size:
                return
            limit, after = limit - size, hits[-1][0]

    def _name_clusters(self, searcher: tantivy.Searcher, buckets: list[dict]) -> list[tuple[str, int]]:
        """The cluster of each (cluster_number, count) bucket, most posts first, then by name
        as Elasticsearch orders them."""
        named = []
        for bucket in buckets:
            key = bucket["key"]
            if key not in self._cluster_names:
                if len(self._cluster_names) >= MAX_CLUSTER_NAMES:
                    self._cluster_names.clear()
                found = searcher.search(tantivy.Query.term_query(self.schema, "cluster_number", key), limit=1)
                self._cluster_names[key] = searcher.doc(found.hits[0][1])["cluster"][0]
            named.append((self._cluster_names[key], bucket["doc_count"]))
        return sorted(named, key=lambda item: (-item[1], item[0]))


def cluster_number(cluster: str) -> int:
    """A cluster's name (the hex content hash of its first post) read as a number from its
    first 16 digits: 64 bits, so unique in practice, and ordered as the names are. Tantivy
    lists the clusters that tie for the last place by the smaller number, so both backends
    list the same ones (Elasticsearch breaks ties by name)."""
    return int(cluster[:16], 16)


def _split_combined(buckets: list[dict]) -> dict[str, list[tuple[str, int]]]:
    """Each COMBINED facet's counts from the counts of the value combinations, ordered as
    Elasticsearch orders a terms count: most posts first, then by value."""
    counts: dict[str, dict[str, int]] = {name: {} for name in COMBINED}
    for bucket in buckets:
        for name, value in zip(COMBINED, bucket["key"].split(_JOIN)):
            if value:  # "": the post has no such value (an untagged post has no sentiment)
                counts[name][value] = counts[name].get(value, 0) + bucket["doc_count"]
    return {name: sorted(values.items(), key=lambda item: (-item[1], item[0]))[: FACET_SIZES.get(name, 50)]
            for name, values in counts.items()}


def _top_clusters(searcher: tantivy.Searcher, matching: tantivy.Query) -> list[dict]:
    """(cluster_number, count) buckets of the clusters listed: from the large clusters alone
    when that is exact, else from all."""
    size = FACET_SIZES["cluster"]
    for field in ("large_cluster_number", "cluster_number"):
        count = {"terms": {"field": field, "size": size, "segment_size": CLUSTER_SEGMENT_SIZE}}
        buckets = searcher.aggregate(matching, {"clusters": count})["clusters"]["buckets"]
        if len(buckets) == size and buckets[-1]["doc_count"] >= LARGE_CLUSTER:
            break
    return buckets


def _aggregations(query: SearchQuery) -> dict:
    """The other facets and the histogram, counted in one pass beside the clusters."""
    terms = {name: {"terms": {"field": name, "size": facet_size(query, name), "segment_size": EXACT_SEGMENT_SIZE}}
             for name in FACETS if name not in COMBINED and name != "cluster"}
    terms["combined"] = {"terms": {"field": "combined", "size": ALL_COMBINATIONS, "segment_size": ALL_COMBINATIONS}}
    terms[query.interval] = {"terms": {"field": query.interval, "size": histogram_size(query.interval),
                                       "segment_size": EXACT_SEGMENT_SIZE}}
    return terms
