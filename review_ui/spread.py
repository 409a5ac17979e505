"""How a post or a near-duplicate cluster spread (``desk.spread``): its tree, drawn with
ECharts from data the page carries as JSON, its depth and breadth over time, its first
source and its key spreaders."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template

from core.schema import CHINA_TZ
from desk.spread import Spread, spread_of_cluster, spread_of_post
from review_ui.i18n import gettext
from review_ui.services import services

bp = Blueprint("spread", __name__, url_prefix="/spread")

DRAWN = 2_000  # posts drawn in the tree, level by level from the top; the rest are counted
LABELLED = 15  # posts up to which the tree names each post beside its dot; above, only the
# first source and the key spreaders are named, as 72 names at once overlap into a blot
_CLUSTER = re.compile(r"[0-9a-f]{1,32}")


@bp.get("/<int:post_id>")
def of_post(post_id: int):
    found = spread_of_post(services().store, post_id)
    if found is None:
        abort(404)
    return _page(found, post_id=post_id)


@bp.get("/cluster/<cluster>")
def of_cluster(cluster: str):
    found = spread_of_cluster(services().store, cluster) if _CLUSTER.fullmatch(cluster) else None
    if not found or not found.nodes:
        abort(404)
    return _page(found, cluster=cluster)


def _page(found: Spread, post_id: int | None = None, cluster: str | None = None):
    return render_template("spread.html", spread=found, post_id=post_id, cluster=cluster,
                           source=found.first_source, spreaders=found.spreaders(),
                           depth=max(node.depth for node in found.nodes.values()),
                           chart=_chart(found))


def _chart(found: Spread) -> dict:
    """The tree (one virtual top where there are several roots) and the time series."""
    drawn = list(found.nodes)[:DRAWN]  # every parent before its children
    named = set(drawn) if len(drawn) <= LABELLED else {node.id for node in (found.first_source, *found.spreaders())}
    items = {}
    for node_id in drawn:
        node = found.nodes[node_id]
        items[node_id] = {"name": node.author or f"#{node_id}", "id": node_id, "text": node.text[:60],
                          "value": node.downstream, "label": {"show": node_id in named}, "children": []}
        if node.parent is not None:
            items[node.parent]["children"].append(items[node_id])
    tops = [items[root] for root in found.roots if root in items]
    steps = found.over_time()
    return {
        "tree": tops[0] if len(tops) == 1 else {"name": "", "children": tops, "value": len(found.nodes)},
        "labelled": len(drawn) <= LABELLED,
        "drawn": len(drawn),
        "times": [row["at"].astimezone(CHINA_TZ).strftime("%m-%d %H:%M") for row in steps],
        "posts": [row["posts"] for row in steps],
        "depth": [row["depth"] for row in steps],
        "breadth": [row["breadth"] for row in steps],
        "names": {name: gettext(f"spread_{name}") for name in ("depth", "breadth", "posts")},
    }
