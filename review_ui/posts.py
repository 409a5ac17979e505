"""The post page: the full post, its tags and its replies and reposts; analysts correct tags here."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for

from indexes.query import RUMOR_THRESHOLD
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
    current = current_labels(post, corrections)
    tasks = correctable()  # read from the model cards: once a request
    # The outcome of the form just sent (see ``correct``), for known tasks only.
    outcome = {name: request.args[name] for name in ("saved", "unchanged")
               if request.args.get(name) in (*tasks, "topics")}
    return render_template("post.html", post=post, replies=replies, corrections=corrections,
                           correctable=tasks, current=current,
                           current_topics=set(current.get("topics", "").split(",")) - {""},
                           outcome=outcome, capture=store.capture_of(post_id))


def current_labels(post: dict, corrections: dict[str, str]) -> dict[str, str]:
    """Each correctable task's label as the post has it now: an analyst's latest
    correction, else the model's tag (rumor as its class at the rumor threshold; topics
    sorted and comma-joined, as corrections store them; none for an untagged post). The
    forms start from these, so that saving without a change corrects nothing."""
    tags = post["tags"] or {}
    tagged = {"topics": ",".join(sorted(tags.get("topics") or []))}
    if tags:
        tagged.update(rumor="rumor" if tags["rumor_prob"] >= RUMOR_THRESHOLD else "non-rumor",
                      sentiment=tags["sentiment"], emotion=tags["emotion"])
    return {**{task: label for task, label in tagged.items() if label is not None}, **corrections}


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
    """Record an analyst's label for one tag; the next ``crisiswatch train`` learns from it.

    A label equal to the post's current one (its tag, or an earlier correction) records
    nothing: a form sent unchanged must not teach the model the tagger's own guess."""
    store = services().store
    task = request.form.get("task", "")
    post = store.get_post(post_id)
    if post is None:
        abort(404)
    current = current_labels(post, store.corrections_of(post_id)).get(task, "")
    tasks = correctable()  # read from the model cards: once a request
    if task == "topics":  # a set of topics (maybe none), stored as one sorted, comma-joined label
        chosen = set(request.form.getlist("label"))
        if not chosen <= set(services().topic_labels):
            abort(400)
        label = ",".join(sorted(chosen))
    elif task in tasks:
        label = request.form.get("label", "")
        # The current label is allowed too: "" where the post has none yet (the form's
        # "choose" option), or a label an older model gave.
        if label not in tasks[task] and label != current:
            abort(400)
    else:
        abort(400)
    if label == current:
        return redirect(url_for("posts.show", post_id=post_id, unchanged=task), code=303)
    store.add_correction(post_id, task, label, analyst=g.user.username)
    return redirect(url_for("posts.show", post_id=post_id, saved=task), code=303)
