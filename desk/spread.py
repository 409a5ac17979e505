"""How a post or a near-duplicate cluster spread: the tree of its reposts and comments
rebuilt from the store's parent links (a reply's ``parent_id`` is its parent's
``platform_id`` on the same platform), its first source, its depth and breadth over time
and the key spreaders, ranked by the reposts downstream of them.

The store is read level by level, one query per few hundred posts of a level (the index
``ix_posts_parent`` answers each), never one query per post. A tree stops growing at
``MAX_NODES`` posts: the posts read by then are kept (the last level's earliest first)
and ``truncated`` says so."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from core.store import PostRow, Store

MAX_NODES = 20_000
MAX_ANCESTORS = 50  # steps up from a reply to its first source
CHUNK = 500  # parent ids per query
TEXT_CHARS = 140  # of each post's text, enough to name it in the tree
TOP_SPREADERS = 10
# the time steps of the depth/breadth chart: the first that gives at most MAX_STEPS steps
STEPS = tuple(timedelta(minutes=m) for m in (1, 5, 10, 30, 60, 180, 360, 720, 1440, 10080, 43200))
MAX_STEPS = 60

_COLUMNS = (PostRow.id, PostRow.platform, PostRow.platform_id, PostRow.kind, PostRow.parent_id,
            PostRow.author_id, PostRow.author_name, func.substr(PostRow.text, 1, TEXT_CHARS).label("text"),
            func.coalesce(PostRow.created_at, PostRow.stored_at).label("at"))


@dataclass
class Node:
    id: int
    platform: str
    platform_id: str
    kind: str
    parent_id: str | None  # the stored link
    author: str | None
    text: str
    at: datetime
    parent: int | None = None  # the parent's node id, where the parent is in the tree
    depth: int = 0
    downstream: int = 0  # reposts below this post in the tree
    children: list[int] = field(default_factory=list)


@dataclass
class Spread:
    nodes: dict[int, Node]  # by id, in reading order: every parent before its children
    roots: list[int]
    truncated: bool

    @property
    def first_source(self) -> Node | None:
        """The earliest post of the tree (by time, then id)."""
        return min(self.nodes.values(), key=lambda node: (node.at, node.id), default=None)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(node.parent, node.id) for node in self.nodes.values() if node.parent is not None]

    def spreaders(self, limit: int = TOP_SPREADERS) -> list[Node]:
        """The posts with the most reposts downstream of them, most first (ties: earliest)."""
        ranked = sorted((n for n in self.nodes.values() if n.downstream), key=lambda n: (-n.downstream, n.at, n.id))
        return ranked[:limit]

    def over_time(self) -> list[dict]:
        """At the end of each time step: the posts so far, the tree's depth (the deepest
        level reached) and its breadth (the most posts on one level)."""
        if not self.nodes:
            return []
        times = sorted((node.at, node.depth) for node in self.nodes.values())
        start, span = times[0][0], times[-1][0] - times[0][0]
        step = next((s for s in STEPS if span / s < MAX_STEPS), STEPS[-1])
        levels: Counter[int] = Counter()
        rows, i, end = [], 0, start + step
        while i < len(times):
            while i < len(times) and times[i][0] < end:
                levels[times[i][1]] += 1
                i += 1
            rows.append({"at": end, "posts": i, "depth": max(levels), "breadth": max(levels.values())})
            end += step
        return rows


def spread_of_post(store: Store, post_id: int, max_nodes: int = MAX_NODES) -> Spread | None:
    """The tree a post belongs to: from its first source up the parent links, down to every
    reply and repost of it; None for an unknown post."""
    with store.engine.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(PostRow.id == post_id)).first()
        if row is None:
            return None
        seen = {row.id}
        for _ in range(MAX_ANCESTORS):
            if not row.parent_id:
                break
            parent = conn.execute(select(*_COLUMNS).where(PostRow.platform == row.platform,
                                                          PostRow.platform_id == row.parent_id)).first()
            if parent is None or parent.id in seen:  # no parent stored, or a loop of links
                break
            seen.add(parent.id)
            row = parent
        return _grow(conn, [row], max_nodes)


def spread_of_cluster(store: Store, cluster: str, max_nodes: int = MAX_NODES) -> Spread:
    """The trees of a near-duplicate cluster's posts (earliest first) and their replies."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(*_COLUMNS).where(PostRow.cluster == cluster)
                            .order_by("at", PostRow.id).limit(max_nodes + 1)).all()
        return _grow(conn, rows, max_nodes)


def _grow(conn, start: list, max_nodes: int) -> Spread:
    """The tree from ``start``, read down level by level."""
    truncated = len(start) > max_nodes
    nodes = {row.id: _node(row) for row in start[:max_nodes]}
    keys = {(n.platform, n.platform_id): n.id for n in nodes.values()}
    level = list(nodes.values())
    while level and not truncated:
        found = []
        for platform in {n.platform for n in level}:
            ids = [n.platform_id for n in level if n.platform == platform]
            for i in range(0, len(ids), CHUNK):
                found += conn.execute(select(*_COLUMNS).where(
                    PostRow.platform == platform, PostRow.parent_id.in_(ids[i:i + CHUNK]))).all()
        level = []
        for row in sorted(found, key=lambda row: (row.at, row.id)):  # earliest first: kept past the bound
            if (row.platform, row.platform_id) in keys:
                continue  # already in the tree (a cluster's own reply, or a loop of links)
            if len(nodes) == max_nodes:
                truncated = True
                break
            node = nodes[row.id] = _node(row)
            keys[(node.platform, node.platform_id)] = node.id
            level.append(node)
    return _linked(nodes, keys, truncated)


def _linked(nodes: dict[int, Node], keys: dict, truncated: bool) -> Spread:
    """Link each post to its parent where the parent is in the tree; then set depths (from
    the roots down) and the reposts downstream (from the leaves up)."""
    for node in nodes.values():
        node.parent = keys.get((node.platform, node.parent_id)) if node.parent_id else None
        if node.parent == node.id:
            node.parent = None
        if node.parent is not None:
            nodes[node.parent].children.append(node.id)
    roots = [node.id for node in nodes.values() if node.parent is None]
    order = _down_from(nodes, roots)
    for node in nodes.values():  # a loop of links has no root: it is cut where it was read first
        if node.id not in order:
            nodes[node.parent].children.remove(node.id)
            node.parent = None
            roots.append(node.id)
            order.update(_down_from(nodes, [node.id]))
    for node_id in reversed(order):
        node = nodes[node_id]
        if node.parent is not None:
            nodes[node.parent].downstream += node.downstream + (node.kind == "repost")
    return Spread({node_id: nodes[node_id] for node_id in order}, roots, truncated)


def _down_from(nodes: dict[int, Node], roots: list[int]) -> dict[int, None]:
    """The ids below ``roots``, level by level (an ordered set), with their depths set."""
    order = dict.fromkeys(roots)
    level = roots
    while level:
        below = []
        for node_id in level:
            for child in nodes[node_id].children:
                if child not in order:
                    nodes[child].depth = nodes[node_id].depth + 1
                    order[child] = None
                    below.append(child)
        level = below
    return order


def _node(row) -> Node:
    at = datetime.fromisoformat(row.at) if isinstance(row.at, str) else row.at  # SQLite: the coalesce is text
    return Node(row.id, row.platform, row.platform_id, row.kind, row.parent_id, row.author_name or row.author_id,
                row.text, at.replace(tzinfo=timezone.utc))
