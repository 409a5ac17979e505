"""A result page as plain JSON-ready data: one shape for the CLI and the UI's API."""

from __future__ import annotations

from indexes.results import SearchPage


def post_as_dict(post: dict) -> dict:
    return {
        "id": post["id"],
        "platform": post["platform"],
        "platform_id": post["platform_id"],
        "kind": post["kind"],
        "title": post["title"],
        "text": post["text"],
        "url": post["url"],
        "author_name": post["author_name"],
        "created_at": post["created_at"].isoformat() if post["created_at"] else None,
        "reposts_count": post["reposts_count"],
        "comments_count": post["comments_count"],
        "likes_count": post["likes_count"],
        "tags": post["tags"],
    }


def page_as_dict(page: SearchPage) -> dict:
    return {
        "query": page.query.text,
        "total": page.total,
        "page": page.query.page,
        "per_page": page.query.per_page,
        "pages": page.pages,
        "sort": page.query.sort,
        "next_after": page.next_after,
        "hits": [{**post_as_dict(hit.post), "score": hit.score, "snippet_html": hit.snippet_html} for hit in page.hits],
        "facets": {name: [{"value": v, "count": c} for v, c in counts] for name, counts in page.facets.items()},
        "interval": page.query.interval,
        "histogram": [{"key": key, "count": count} for key, count in page.histogram],
        "days": [{"day": day, "count": count} for day, count in page.histogram] if page.query.interval == "day" else [],
    }
