"""Who may do what to a release, and in which state: pure rules over plain values, with
the one table of the steps that change a release's state, a delivery's status or an alert's state.

``user`` is anything with ``id``, ``org_id``, ``roles`` and ``active`` (a ``User`` row
will do); ``release`` anything with ``state``, ``kind``, ``drafting_org_id`` and
``required_org_ids`` (a ``Release`` row will do); approvals have ``org_id``,
``version_number`` and ``cleared_at``; versions ``number`` and ``author_id``.

A release the user cannot view raises ``NotFound`` for every action, so that a user of
another organisation who changes an id in a URL learns nothing (404, not 403).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Mapping, NamedTuple

from desk.errors import Forbidden, Invalid, InvalidTransition, NotFound, WorkflowError
from desk.states import AlertState, DeliveryStatus, ReleaseState, ReplayState


class Step(NamedTuple):
    """One row of the table of a release's steps."""

    role: str | None  # the role it needs; None: any user who sees the release
    members: str  # whose members take it: drafting, required, viewer; system: no user, it follows from others
    states: tuple[ReleaseState, ...]  # the states it may be taken in
    to: ReleaseState | None = None  # the state it leads to; None: the state stays


S = ReleaseState
# Every step of a release, the users' in the order of their buttons. A step with a ``to``
# changes the state only through ``transition``.
ACTIONS: dict[str, Step] = {
    "edit": Step("drafter", "drafting", (S.DRAFT, S.IN_REVIEW, S.APPROVED)),
    "submit": Step("drafter", "drafting", (S.DRAFT,), S.IN_REVIEW),
    "approve": Step("approver", "required", (S.IN_REVIEW,), S.APPROVED),  # once every required org has
    "request_changes": Step("approver", "required", (S.IN_REVIEW,), S.DRAFT),
    "comment": Step(None, "viewer", tuple(S)),
    "schedule": Step("publisher", "drafting", (S.APPROVED,), S.SCHEDULED),
    "unschedule": Step("publisher", "drafting", (S.SCHEDULED,), S.APPROVED),
    "correct": Step("drafter", "drafting", (S.PUBLISHED,)),
    "withdraw": Step("drafter", "drafting", (S.PUBLISHED,)),
    "reopen": Step(None, "system", (S.APPROVED,), S.IN_REVIEW),  # an edit cleared an approval
    "publish": Step(None, "system", (S.SCHEDULED,), S.PUBLISHED),  # every channel has it
}

D = DeliveryStatus
# where an attempt ends from: its claim's ``sending``, or, when the publisher's lease ran
# out meanwhile, whatever another publisher or an unscheduling made of it but delivered
_ATTEMPTED = (D.SENDING, D.PENDING, D.HELD, D.FAILED, D.CANCELLED)
# A delivery's steps: (the statuses it moves a delivery from, the status it leads to).
DELIVERY_STEPS: dict[str, tuple[tuple[DeliveryStatus, ...], DeliveryStatus]] = {
    "claim": ((D.PENDING, D.SENDING), D.SENDING),  # a publisher takes it for a lease; sending: a lease ran out
    "deliver": (_ATTEMPTED, D.DELIVERED),
    "postpone": (_ATTEMPTED, D.PENDING),  # the attempt failed: retried later
    "give_up": (_ATTEMPTED, D.FAILED),  # the last attempt failed
    "hold": ((D.PENDING, D.HELD), D.HELD),  # the release contradicts the fact sheet now
    "resume": ((D.HELD,), D.PENDING),
    "retry": ((D.FAILED,), D.PENDING),  # an admin's, after the last attempt
    "cancel": ((D.PENDING, D.SENDING, D.HELD, D.FAILED), D.CANCELLED),  # the release was unscheduled
}

A = AlertState
# An alert's steps (研判 and 处置): (the states it is taken in, the state it leads to).
ALERT_STEPS: dict[str, tuple[tuple[AlertState, ...], AlertState]] = {
    "acknowledge": ((A.NEW,), A.HANDLING),
    "assign": ((A.NEW, A.HANDLING), A.HANDLING),  # to a person or an organisation, by a due time
    "answer": ((A.HANDLING,), A.ANSWERED),  # a release answers it
    "close": ((A.NEW, A.HANDLING, A.ANSWERED), A.CLOSED),  # new: assessed as nothing to handle
    "reopen": ((A.ANSWERED, A.CLOSED), A.HANDLING),
}

R = ReplayState
# A replay's steps (desk.replay; a drill director's buttons): (the states it is taken in, the state it leads to).
REPLAY_STEPS: dict[str, tuple[tuple[ReplayState, ...], ReplayState]] = {
    "run": ((R.READY,), R.RUNNING),
    "pause": ((R.RUNNING,), R.PAUSED),
    "resume": ((R.PAUSED,), R.RUNNING),
    "end": ((R.READY, R.RUNNING, R.PAUSED), R.ENDED),
}

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
        raise Forbidden("drafter_creates")


def check_incident(user) -> None:
    """Opening an incident or setting its facts: the people who handle releases and posts."""
    _active(user)
    if not {"analyst", "drafter", "approver"} & set(user.roles):
        raise Forbidden("handles_incidents")


def check(action: str, user, release, *, approvals: Iterable = (), versions: Iterable = (),
          comment: str = "", when: datetime | None = None, now: datetime | None = None) -> None:
    """Raise unless ``user`` may do ``action`` to ``release`` now. ``approvals`` and
    ``versions`` matter to approve, ``comment`` to request_changes, ``when``/``now`` to
    schedule."""
    role, members, _, _ = ACTIONS[action]
    if members == "system":  # publish (and reopen, which no user asks for)
        raise Forbidden("system_publishes")
    _active(user)
    if not can_view(user, release):
        raise NotFound("no_release")
    if role is not None and role not in user.roles:
        raise Forbidden("needs_role", action=action, role=role)
    if members == "drafting" and user.org_id != release.drafting_org_id:
        raise Forbidden("drafting_org_only", action=action)
    if members == "required" and user.org_id not in release.required_org_ids:
        raise Forbidden("required_org_only", action=action)
    check_state(action, release)
    if action in ("approve", "request_changes"):
        approvals = list(approvals)
        if user.org_id in approved_orgs(approvals):
            raise InvalidTransition("already_approved")
        if action == "approve" and user.id in barred_approvers(user.org_id, approvals, versions):
            raise Forbidden("own_edit")
    if action == "request_changes" and not comment.strip():
        raise Invalid("changes_need_comment")
    if action == "schedule" and when is not None and now is not None:
        if when < now - SCHEDULE_GRACE:
            raise Invalid("schedule_past")
        if when > now + SCHEDULE_AHEAD:
            raise Invalid("schedule_far")


def check_state(action: str, release) -> None:
    if release.state not in ACTIONS[action].states:
        code = "state_published" if release.state == ReleaseState.PUBLISHED else "state"
        raise InvalidTransition(code, action=action, state=release.state)
    if action in ("correct", "withdraw") and release.kind == "withdrawal":
        raise InvalidTransition("withdrawal_final")


def transition(release, action: str) -> ReleaseState:
    """Take a step that changes the release's state: check that its state allows it, set
    the state the step leads to; returns the state it left. Who may take it is ``check``'s."""
    check_state(action, release)
    before, release.state = release.state, ACTIONS[action].to
    return before


def move_delivery(delivery, step: str) -> bool:
    """Take a delivery step if the delivery's status is one it starts from: set the status
    it leads to and return True; else change nothing and return False. (Many rows at
    once: ``DELIVERY_STEPS`` in an UPDATE, whose row count says the same.)"""
    sources, target = DELIVERY_STEPS[step]
    if delivery.status not in sources:
        return False
    delivery.status = target
    return True


def move_alert(alert, step: str) -> AlertState:
    """Take an alert's step: refuse it unless the alert's state is one it is taken in, else
    set the state it leads to; returns the state it left."""
    sources, target = ALERT_STEPS[step]
    if alert.state not in sources:
        raise InvalidTransition("alert_state", step=step, state=alert.state)
    before, alert.state = alert.state, target
    return before


def move_replay(replay, step: str) -> ReplayState:
    """Take a replay's step, as ``move_alert`` does an alert's."""
    sources, target = REPLAY_STEPS[step]
    if replay.state not in sources:
        raise InvalidTransition("replay_state", change=step, now=replay.state)
    before, replay.state = replay.state, target
    return before


def check_retry(user, release) -> None:
    """Sending a failed delivery of ``release`` again: a publisher of the drafting
    organisation, or an admin."""
    if not ("admin" in user.roles or ("publisher" in user.roles and user.org_id == release.drafting_org_id)):
        raise Forbidden("retry_forbidden")


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
        raise Invalid("unknown_orgs", orgs=unknown)
    if joint and {kinds[org] for org in required} != {"government", "enterprise"}:
        raise Invalid("joint_release")
    return required


def _active(user) -> None:
    if not user.active:
        raise Forbidden("account_disabled")
