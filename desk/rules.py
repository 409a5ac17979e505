"""Who may do what to a release, and in which state: pure rules over plain values.

``user`` is anything with ``id``, ``org_id``, ``roles`` and ``active`` (a ``User`` row
will do); ``release`` anything with ``state``, ``kind``, ``drafting_org_id`` and
``required_org_ids`` (a ``Release`` row will do); approvals have ``org_id``,
``version_number`` and ``cleared_at``; versions ``number`` and ``author_id``.

A release the user cannot view raises ``NotFound`` for every action, so that a user of
another organisation who changes an id in a URL learns nothing (404, not 403).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Mapping

from desk.tables import STATES


class WorkflowError(Exception):
    """Anything the workflow refuses; ``reason`` is short English for logs and tests."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Forbidden(WorkflowError):
    """This user may not do this (role or organisation)."""


class InvalidTransition(WorkflowError):
    """The release's state does not allow this."""


class Invalid(WorkflowError):
    """The request itself is wrong: an empty comment, a time in the past, an unknown org."""


class NotFound(WorkflowError):
    """No such object, or one the user may not see."""


# action: (the role it needs, whose members may do it, the states that allow it)
ACTIONS: dict[str, tuple[str | None, str, tuple[str, ...]]] = {
    "edit": ("drafter", "drafting", ("draft", "in_review", "approved")),
    "submit": ("drafter", "drafting", ("draft",)),
    "approve": ("approver", "required", ("in_review",)),
    "request_changes": ("approver", "required", ("in_review",)),
    "comment": (None, "viewer", STATES),
    "schedule": ("publisher", "drafting", ("approved",)),
    "unschedule": ("publisher", "drafting", ("scheduled",)),
    "correct": ("drafter", "drafting", ("published",)),
    "withdraw": ("drafter", "drafting", ("published",)),
}
# where a transition leads; approve leads to "approved" only once every required org has
NEXT_STATE = {"submit": "in_review", "request_changes": "draft", "schedule": "scheduled",
              "unschedule": "approved", "publish": "published"}
# a few seconds' grace so that "now" picked in a form is not already in the past
SCHEDULE_GRACE = timedelta(minutes=1)
SCHEDULE_AHEAD = timedelta(days=366)  # a time further ahead is a typo, not a plan


def can_view(user, release) -> bool:
    if not user.active:
        return False
    if "admin" in user.roles:
        return True
    return user.org_id == release.drafting_org_id or user.org_id in release.required_org_ids


def check_create(user) -> None:
    _active(user)
    if "drafter" not in user.roles:
        raise Forbidden("only a drafter creates a release")


def check_incident(user) -> None:
    """Opening an incident or setting its facts: the people who handle releases and posts."""
    _active(user)
    if not {"analyst", "drafter", "approver"} & set(user.roles):
        raise Forbidden("only analysts, drafters and approvers handle incidents")


def check(action: str, user, release, *, approvals: Iterable = (), versions: Iterable = (),
          comment: str = "", when: datetime | None = None, now: datetime | None = None) -> None:
    """Raise unless ``user`` may do ``action`` to ``release`` now. ``approvals`` and
    ``versions`` matter to approve, ``comment`` to request_changes, ``when``/``now`` to
    schedule."""
    if action == "publish":
        raise Forbidden("only the system publishes, when a scheduled release is due")
    role, members, _ = ACTIONS[action]
    _active(user)
    if not can_view(user, release):
        raise NotFound("no such release")
    if role is not None and role not in user.roles:
        raise Forbidden(f"{action} needs the {role} role")
    if members == "drafting" and user.org_id != release.drafting_org_id:
        raise Forbidden(f"only the drafting organisation may {action}")
    if members == "required" and user.org_id not in release.required_org_ids:
        raise Forbidden(f"only a required organisation may {action}")
    check_state(action, release)
    if action in ("approve", "request_changes"):
        approvals = list(approvals)
        if user.org_id in approved_orgs(approvals):
            raise InvalidTransition("your organisation has already approved this text")
        if action == "approve" and user.id in barred_approvers(user.org_id, approvals, versions):
            raise Forbidden("no one approves their own edit")
    if action == "request_changes" and not comment.strip():
        raise Invalid("requesting changes needs a comment")
    if action == "schedule" and when is not None and now is not None:
        if when < now - SCHEDULE_GRACE:
            raise Invalid("a release cannot be scheduled in the past")
        if when > now + SCHEDULE_AHEAD:
            raise Invalid("a release is scheduled at most a year ahead")


def check_state(action: str, release) -> None:
    states = ("scheduled",) if action == "publish" else ACTIONS[action][2]
    if release.state not in states:
        hint = "; correct or withdraw it with a new release" if release.state == "published" else ""
        raise InvalidTransition(f"cannot {action} a release in state {release.state}{hint}")
    if action in ("correct", "withdraw") and release.kind == "withdrawal":
        raise InvalidTransition("a withdrawal cannot itself be corrected or withdrawn")


def allowed_actions(user, release, **context) -> list[str]:
    """The actions whose buttons the UI shows (the server checks again on submit)."""
    allowed = []
    for action in ACTIONS:
        try:
            check(action, user, release, comment="-", **context)
        except WorkflowError:
            continue
        allowed.append(action)
    return allowed


def approved_orgs(approvals: Iterable) -> set[int]:
    """The organisations whose approval still holds (not cleared by a text change)."""
    return {a.org_id for a in approvals if a.cleared_at is None}


def fully_approved(release, approvals: Iterable) -> bool:
    return set(release.required_org_ids) <= approved_orgs(approvals)


def barred_approvers(org_id: int, approvals: Iterable, versions: Iterable) -> set[int]:
    """Who of ``org_id`` may not approve: the authors of every version since the org's
    last approval (cleared or not), or of every version if it never approved. What the
    org signed off before was approved by someone else of it; what came after is the
    change under review, and its authors would be approving their own edit."""
    since = max((a.version_number for a in approvals if a.org_id == org_id), default=0)
    return {v.author_id for v in versions if v.number > since}


def required_orgs(drafting_org_id: int, required_org_ids: Iterable[int], kinds: Mapping[int, str],
                  joint: bool = False) -> list[int]:
    """The organisations that must sign off a new release: those named plus the drafting
    org. ``kinds`` maps every existing org id to its kind; a joint release needs at
    least one government and one enterprise org."""
    required = sorted({drafting_org_id, *required_org_ids})
    unknown = [org for org in required if org not in kinds]
    if unknown:
        raise Invalid(f"unknown organisations {unknown}")
    if joint and {kinds[org] for org in required} != {"government", "enterprise"}:
        raise Invalid("a joint release needs a government and an enterprise organisation")
    return required


def _active(user) -> None:
    if not user.active:
        raise Forbidden("this account is disabled")
