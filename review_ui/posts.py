"""The post page: the full post, its tags and its replies and reposts; analysts correct tags here."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from nlp.models import task_classes
from review_ui.auth import roles_required
from review_ui.services import services

bp = Blueprint("posts", __name__, url_prefix="/posts")

MAX_REPLIES = 100


def correctable() -> dict[str, list[str]]:
    """Each task an analyst may correct, with the labels its model knows."""
    return task_classes(services().settings.models_dir)


@bp.get("/<int:post_id>")
def show(post_id: int):
    store = services().store
    post = store.get_post(post_id)
    if post is None:
        abort(404)
    replies = store.replies_of(post["platform"], post["platform_id"], MAX_REPLIES)
    corrections = store.corrections_of(post_id)
    corrected_topics = set(corrections["topics"].split(",")) - {""} if "topics" in corrections else None
    return render_template("post.html", post=post, replies=replies, corrections=corrections,
                           correctable=correctable(), corrected_topics=corrected_topics,
                           capture=store.capture_of(post_id))


@bp.get("/<int:post_id>/capture")
def capture(post_id: int):
    """The raw response a post was read from, as a download: captured pages are
    untrusted HTML and script, never rendered on this site's origin."""
    found = services().store.capture_of(post_id)
    if found is None:
        abort(404)
    return Response(found.body, mimetype="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename=capture-{post_id}-{found.sha256[:12]}.bin",
        "X-Content-Type-Options": "nosniff",
        "X-Captured-Url": found.url.encode("ascii", "backslashreplace").decode("ascii"),
        "X-Captured-Content-Type": found.headers.get("Content-Type", ""),
    })


@bp.post("/<int:post_id>/corrections")
@roles_required("analyst")
def correct(post_id: int):
    """Record an analyst's label for one tag; the next ``crisiswatch train`` learns from it."""
    store = services().store
    task = request.form.get("task", "")
    if store.get_post(post_id) is None:
        abort(404)
    if task == "topics":  # a set of topics (maybe none), stored as one sorted, comma-joined label
        chosen = set(request.form.getlist("label"))
        if not chosen <= set(services().topic_labels):
            abort(400)
        label = ",".join(sorted(chosen))
    else:
        label = request.form.get("label", "")
        if label not in correctable().get(task, []):
            abort(400)
    store.add_correction(post_id, task, label, analyst=g.user.username)
    return redirect(url_for("posts.show", post_id=post_id, saved=task), code=303)
