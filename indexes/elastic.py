"""The Elasticsearch backend, for scale: the same documents and answers as the embedded one.

* An index template gives every ``crisiswatch-posts-v<N>`` index explicit mappings: the
  text is pre-tokenised by ``indexes.analysis`` and split by the whitespace analyzer, so
  both backends index the very same terms; facets are keyword fields.
* Searches and writes go through the alias ``crisiswatch-posts``. A full rebuild fills a
  new version and then moves the alias in one atomic step, without downtime.
* Bulk writes retry rejected chunks with exponential back-off (back-pressure from the
  cluster's write queue), and documents are keyed by post id, so a retry never duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timezone

from elasticsearch import Elasticsearch, NotFoundError, helpers

from indexes.analysis import index_tokens, is_single_cjk
from indexes.documents import INTEGERS, KEYWORDS, to_fields
from indexes.errors import IndexOutdated
from indexes.query import FACETS, Atom, SearchQuery
from indexes.results import IDS_CHUNK, RawResult, facet_size, histogram_size

ALIAS = "crisiswatch-posts"
TEMPLATE = {
    "index_patterns": [f"{ALIAS}-v*"],
    "template": {
        "settings": {"number_of_shards": 1, "refresh_interval": "5s"},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": {"type": "long"},
                "text": {"type": "text", "analyzer": "whitespace"},
                "time": {"type": "date"},
                "rumor_prob": {"type": "float"},
                **{name: {"type": "keyword"} for name in KEYWORDS},
                **{name: {"type": "long"} for name in INTEGERS},
            },
        },
    },
}


class ElasticIndex:
    backend = "elasticsearch"

    def __init__(self, url: str, alias: str = ALIAS, client: Elasticsearch | None = None):
        self.client = client or Elasticsearch(url, request_timeout=60, retry_on_timeout=True, max_retries=3)
        self.alias = alias
        self._rebuild_index: str | None = None
        self._installed = False  # the template put and the alias made, once per object
        self._ready = False  # and the fields checked

    def _ensure(self) -> None:
        if self._ready:
            return
        self._install()
        if self._rebuild_index is None:
            self._check_fields()
        self._ready = True

    def _install(self) -> None:
        if self._installed:  # an outdated index is checked again on each use, not re-installed
            return
        self.client.indices.put_index_template(name=self.alias, **{**TEMPLATE, "index_patterns": [f"{self.alias}-v*"]})
        if not self.client.indices.exists_alias(name=self.alias):
            self.client.indices.create(index=f"{self.alias}-v1", aliases={self.alias: {}})
        self._installed = True

    def _check_fields(self) -> None:
        """An index made by an older version lacks fields this one writes (its mapping is
        strict): it must be rebuilt, as the embedded index is."""
        wanted = set(TEMPLATE["template"]["mappings"]["properties"])
        for name, body in self.client.indices.get_mapping(index=self.alias).items():
            missing = wanted - set(body["mappings"].get("properties", {}))
            if missing:
                raise IndexOutdated("old_mapping", name=name, fields=", ".join(sorted(missing)))

    def _versions(self) -> list[str]:
        return sorted(self.client.indices.get(index=f"{self.alias}-v*").keys(), key=lambda n: int(n.rsplit("v", 1)[1]))

    # -- writing -----------------------------------------------------------------------

    def replace(self, posts: list[dict]) -> None:
        self._ensure()
        target = self._rebuild_index or self.alias

        def actions():
            for fields in to_fields(posts):
                fields["time"] = fields["time"].astimezone(timezone.utc).isoformat()
                yield {"_index": target, "_id": str(fields["id"]), "_source": fields}

        for ok, item in helpers.streaming_bulk(self.client, actions(), chunk_size=500, max_retries=5,
                                               initial_backoff=0.5, max_backoff=30, raise_on_error=False):
            if not ok:
                raise RuntimeError(f"Elasticsearch refused a document: {item}")

    def commit(self) -> None:
        self._ensure()
        self.client.indices.refresh(index=self._rebuild_index or self.alias)

    def close(self) -> None:
        self.commit()

    def start_rebuild(self) -> None:
        self._install()
        number = int(self._versions()[-1].rsplit("v", 1)[1]) + 1
        self._rebuild_index = f"{self.alias}-v{number}"
        self.client.indices.create(index=self._rebuild_index)

    def abandon_rebuild(self) -> None:
        """Drop the index being rebuilt; the alias stays on the current one."""
        new, self._rebuild_index = self._rebuild_index, None
        if new:
            self.client.indices.delete(index=new, ignore_unavailable=True)

    def finish_rebuild(self) -> None:
        new, self._rebuild_index = self._rebuild_index, None
        self.client.indices.refresh(index=new)
        old = [name for name in self.client.indices.get_alias(name=self.alias)]
        self.client.indices.update_aliases(actions=[
            *({"remove": {"index": name, "alias": self.alias}} for name in old),
            {"add": {"index": new, "alias": self.alias}},
        ])
        for name in old:
            self.client.indices.delete(index=name)

    # -- reading -----------------------------------------------------------------------

    def num_docs(self) -> int:
        self._ensure()
        return self.client.count(index=self.alias)["count"]

    def count_id(self, post_id: int) -> int:
        self._ensure()
        return self.client.count(index=self.alias, query={"term": {"id": post_id}})["count"]

    @staticmethod
    def _substring(text: str) -> dict:
        if is_single_cjk(text):  # a lone character: any pair that holds it, or itself
            return {"regexp": {"text": f"{text}.?|.{text}"}}
        tokens = index_tokens(text)
        if len(tokens) == 1:
            return {"term": {"text": tokens[0]}}
        return {"match_phrase": {"text": {"query": " ".join(tokens), "analyzer": "whitespace"}}}

    def _atom(self, atom: Atom) -> dict:
        parts = [self._substring(s) for s in atom.substrings]
        return parts[0] if len(parts) == 1 else {"bool": {"must": parts}}

    @staticmethod
    def _filters(query: SearchQuery) -> list[dict]:
        filters = []
        for name, values in (
            ("platform", query.platforms), ("polarity", query.polarities), ("sentiment", query.sentiments),
            ("emotion", query.emotions),
            ("topics", query.topics), ("places", query.places), ("cluster", query.clusters),
        ):
            if values:
                filters.append({"terms": {name: list(values)}})
        if query.verified is not None:
            filters.append({"term": {"verified": "yes" if query.verified else "no"}})
        if query.rumor:
            filters.append({"term": {"rumor": "likely"}})
        if query.rumor_min is not None or query.rumor_max is not None:
            bounds = {"gte": query.rumor_min, "lte": query.rumor_max}
            filters.append({"range": {"rumor_prob": {k: v for k, v in bounds.items() if v is not None}}})
        if query.since or query.until:
            bounds = {"gte": query.since, "lte": query.until}
            filters.append({"range": {"time": {k: v.astimezone(timezone.utc).isoformat()
                                                for k, v in bounds.items() if v is not None}}})
        return filters

    def _matching(self, query: SearchQuery) -> dict:
        text = query.parsed
        must = []
        for group in text.all_of:
            atoms = [self._atom(a) for a in group]
            must.append(atoms[0] if len(atoms) == 1 else {"bool": {"should": atoms, "minimum_should_match": 1}})
        return {"bool": {"must": must or [{"match_all": {}}], "filter": self._filters(query),
                         "must_not": [self._atom(a) for a in text.none_of]}}

    def count(self, query: SearchQuery) -> int:
        self._ensure()
        return self.client.count(index=self.alias, query=self._matching(query))["count"]

    def search(self, query: SearchQuery) -> RawResult:
        self._ensure()
        matching = self._matching(query)
        aggs = {name: {"terms": {"field": name, "size": facet_size(query, name)}} for name in FACETS}
        aggs[query.interval] = {"terms": {"field": query.interval, "size": histogram_size(query.interval)}}
        sort = None if query.ranked else [{query.sort_key: "desc"}]
        page_query = matching
        if query.after is not None:
            page_query = {"bool": {"must": [matching], "filter": [{"range": {query.sort_key: {"lt": query.after}}}]}}
        response = self.client.search(
            index=self.alias, query=page_query, size=query.per_page + (not query.ranked), from_=query.offset, sort=sort,
            track_total_hits=True, source=False, aggs=aggs if query.after is None else None,
        )
        if query.after is not None:  # totals and counts are of the whole result, not of what follows the cursor
            summary = self.client.search(index=self.alias, query=matching, size=0, track_total_hits=True, aggs=aggs)
        else:
            summary = response
        total = summary["hits"]["total"]["value"]
        hits = [(int(h["_id"]), h["_score"] if query.ranked else h["sort"][0]) for h in response["hits"]["hits"]]
        buckets = summary.get("aggregations", {})
        facets = {name: [(b["key"], b["doc_count"]) for b in buckets[name]["buckets"]] for name in FACETS} if total else {}
        histogram = sorted((b["key"], b["doc_count"]) for b in buckets[query.interval]["buckets"]) if total else []
        return RawResult.page_of(query, total, hits, facets, histogram)

    def ids(self, query: SearchQuery, limit: int) -> Iterator[int]:
        """Chunks paged with ``search_after`` (``from`` stops at 10,000 and costs more the
        deeper it goes); the id breaks ties of relevance, as the sort keys hold it."""
        self._ensure()
        sort = [{"_score": "desc"}, {"id": "asc"}] if query.ranked else [{query.sort_key: "desc"}]
        matching, after = self._matching(query), None
        while limit > 0:
            size = min(IDS_CHUNK, limit)
            hits = self.client.search(index=self.alias, query=matching, size=size, sort=sort, search_after=after,
                                      source=False, track_total_hits=False)["hits"]["hits"]
            yield from (int(h["_id"]) for h in hits)
            if len(hits) < size:
                return
            limit, after = limit - size, hits[-1]["sort"]

    def delete_all(self) -> None:
        """Remove every version and the template (tests, and uninstalling)."""
        for name in self._versions():  # by name: clusters refuse wildcard deletes
            self.client.indices.delete(index=name)
        try:
            self.client.indices.delete_index_template(name=self.alias)
        except NotFoundError:
            pass
        self._installed = self._ready = False
