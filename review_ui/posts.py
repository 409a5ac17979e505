"""The post page: the full post, its tags and its replies and reposts."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from review_ui.services import services

bp = Blueprint("posts", __name__, url_prefix="/posts")

MAX_REPLIES = 100


@bp.get("/<int:post_id>")
def show(post_id: int):
    post = services().store.get_post(post_id)
    if post is None:
        abort(404)
    replies = services().store.replies_of(post["platform"], post["platform_id"], MAX_REPLIES)
    return render_template("post.html", post=post, replies=replies)
