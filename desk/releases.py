"""The release workflow's actions inside a SQLAlchemy session: each checks the rules,
changes the rows and appends its audit entry in the caller's transaction (the caller
commits). ``user`` is a ``User`` row.

Choices where the product issue is silent:

- Every save is a new version, even one that changes nothing; an edit clears exactly the
  approvals still holding whose signed-off text (title and body of their version) differs
  from the new text; an approved release whose text changes goes back to review.
- Requesting changes keeps the approvals: they are cleared by text changes only.
- Approval and scheduling run the pre-publication checks and refuse (``Blocked``) while a
  blocking problem exists; the UI shows ``problems(...)`` beforehand.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store import naive_utc, utcnow
from desk import audit, rules
from desk.checks import Config, Problem, blocking, pre_publication
from desk.facts import OtherRelease, current_facts, name_organisations
from desk.limits import check_text
from desk.rules import Invalid, InvalidTransition, NotFound, WorkflowError
from desk.states import DeliveryStatus, ReleaseState
from desk.tables import Approval, Comment, Delivery, Incident, Organisation, Release, User, Version
from desk.vocabulary import CHANNELS
from indexes.query import QueryError, SearchQuery


class Blocked(WorkflowError):
    """The pre-publication checks found blocking problems."""

    def __init__(self, problems: list[Problem]):
        super().__init__("blocked", count=len(problems))
        self.problems = problems


# --- reading ---------------------------------------------------------------------------

def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("no_incident")
    return incident


def get_release(session: Session, user: User, release_id: int) -> Release:
    """The release, or ``NotFound`` when it does not exist or the user may not see it."""
    release = session.get(Release, release_id)
    if release is None or not rules.can_view(user, release):
        raise NotFound("no_release")
    return release


def visible_releases(session: Session, user: User, incident: Incident | None = None) -> list[Release]:
    """Newest first. Filtered in Python: membership in a JSON list differs per database."""
    query = select(Release).order_by(Release.id.desc())
    if incident is not None:
        query = query.where(Release.incident_id == incident.id)
    return [r for r in session.execute(query).scalars() if rules.can_view(user, r)]


def versions(session: Session, release: Release) -> list[Version]:
    return list(session.execute(select(Version).where(Version.release_id == release.id)
                                .order_by(Version.number)).scalars())


def current_version(session: Session, release: Release) -> Version:
    return versions(session, release)[-1]


def approvals(session: Session, release: Release) -> list[Approval]:
    """All of them, cleared ones included, oldest first."""
    return list(session.execute(select(Approval).where(Approval.release_id == release.id)
                                .order_by(Approval.id)).scalars())


def comments(session: Session, release: Release) -> list[Comment]:
    return list(session.execute(select(Comment).where(Comment.release_id == release.id)
                                .order_by(Comment.id)).scalars())


def problems(session: Session, release: Release, config: Config | None = None) -> list[Problem]:
    """The pre-publication checks of the current text against the fact sheet and the
    other side's latest approved, scheduled or published release of each organisation."""
    text = current_version(session, release)
    facts = {key: fact.value for key, fact in current_facts(session, get_incident(session, release.incident_id)).items()}
    return pre_publication(text.title, text.body, release.channel, facts, _other_side(session, release), config,
                           release.kind)


# --- incidents and releases ------------------------------------------------------------

def create_incident(session: Session, user: User, title: str, query: str = "", major: bool = True,
                    org_ids: Iterable[int] = ()) -> Incident:
    """Opened by the user's organisation (its owner), naming ``org_ids`` as the other
    organisations that handle it (they may set and dispute its facts)."""
    rules.check_incident(user)
    check_text("incident_title", title)
    check_text("incident_query", query)
    if not title.strip():
        raise Invalid("incident_title")
    try:
        SearchQuery(text=query)  # its posts are found by this search: it must parse
    except QueryError as err:
        raise Invalid("incident_query", error=err) from None
    incident = Incident(title=title.strip(), query=query, major=major, started_at=utcnow(), created_by=user.id)
    session.add(incident)
    session.flush()
    _audit(session, user, "incident.create", f"incident:{incident.id}", {"title": incident.title})
    name_organisations(session, user, incident, org_ids)
    return incident


def create_release(session: Session, user: User, incident: Incident, title: str, body: str, channel: str,
                   required_org_ids: list[int], joint: bool = False, rumor_clusters: list | None = None) -> Release:
    """A draft with version 1; the drafting org (the user's) is always required."""
    rules.check_create(user)
    check_text("rumor_clusters", ",".join(rumor_clusters or []))
    release = _new_release(session, user, incident, title, body, channel, required_org_ids, joint, "release")
    release.rumor_clusters = list(rumor_clusters or [])
    _audit(session, user, "release.create", _target(release),
           {"incident": incident.id, "channel": channel, "required": release.required_org_ids, "joint": joint})
    return release


def edit(session: Session, user: User, release: Release, title: str, body: str) -> Version:
    rules.check("edit", user, release)
    _check_text(title, body)
    version = _add_version(session, release, user, title, body)
    cleared = []
    for approval in approvals(session, release):
        if approval.cleared_at is None and _text(session, release, approval.version_number) != (title, body):
            approval.cleared_at = utcnow()
            cleared.append(approval.org_id)
    if cleared and release.state == ReleaseState.APPROVED:
        rules.transition(release, "reopen")
    _audit(session, user, "release.edit", _target(release),
           {"version": version.number, "cleared": cleared, "state": release.state})
    return version


def submit(session: Session, user: User, release: Release) -> None:
    _transition(session, user, release, "submit")


def approve(session: Session, user: User, release: Release, config: Config | None = None,
            version: int | None = None) -> Approval:
    """Sign off the current text for the user's organisation; the release is approved
    once every required organisation holds an approval. ``version``: the version the
    approver read (the UI's form sends it), refused when it is no longer the current one."""
    held = approvals(session, release)
    rules.check("approve", user, release, approvals=held, versions=versions(session, release))
    current = current_version(session, release).number
    if version is not None and version != current:
        raise InvalidTransition("stale_version", version=current)
    _refuse_blocked(session, release, config)
    approval = Approval(release_id=release.id, org_id=user.org_id, user_id=user.id,
                        version_number=current, created_at=utcnow())
    session.add(approval)
    if rules.fully_approved(release, [*held, approval]):
        rules.transition(release, "approve")
    session.flush()
    _audit(session, user, "release.approve", _target(release),
           {"version": approval.version_number, "state": release.state})
    return approval


def request_changes(session: Session, user: User, release: Release, comment: str) -> Comment:
    rules.check("request_changes", user, release, approvals=approvals(session, release), comment=comment)
    check_text("comment", comment)
    rules.transition(release, "request_changes")
    row = _comment(session, user, release, comment, changes_requested=True)
    _audit(session, user, "release.request_changes", _target(release), {"comment": row.id, "state": release.state})
    return row


def add_comment(session: Session, user: User, release: Release, body: str) -> Comment:
    rules.check("comment", user, release)
    check_text("comment", body)
    if not body.strip():
        raise Invalid("comment_empty")
    row = _comment(session, user, release, body)
    _audit(session, user, "release.comment", _target(release), {"comment": row.id})
    return row


def schedule(session: Session, user: User, release: Release, when: datetime | None = None,
             enqueue: Callable[[Session, Release], object] | None = None, config: Config | None = None,
             now: datetime | None = None) -> object:
    """Schedule for ``when`` (default now); ``enqueue(session, release)`` queues its
    deliveries (``desk.outbox.schedule_deliveries``) and what it returns is returned. The
    checks run again: the fact sheet may have changed since approval."""
    now = now or utcnow()
    when = naive_utc(when) or now
    rules.check("schedule", user, release, when=when, now=now)
    _refuse_blocked(session, release, config)
    rules.transition(release, "schedule")
    release.scheduled_at = when
    session.flush()
    queued = enqueue(session, release) if enqueue is not None else None
    _audit(session, user, "release.schedule", _target(release), {"at": when.isoformat()})
    return queued


def unschedule(session: Session, user: User, release: Release,
               cancel: Callable[[Session, Release], object] | None = None) -> None:
    """Back to approved; ``cancel(session, release)`` drops its pending deliveries."""
    rules.check("unschedule", user, release)
    delivered = session.query(Delivery).filter(Delivery.release_id == release.id,
                                               Delivery.status == DeliveryStatus.DELIVERED)
    if delivered.count():
        raise InvalidTransition("already_sent")
    rules.transition(release, "unschedule")
    release.scheduled_at = None
    if cancel is not None:
        cancel(session, release)
    _audit(session, user, "release.unschedule", _target(release), {})


def mark_published(session: Session, release: Release, when: datetime | None = None) -> None:
    """The system's step, when a scheduled release has been delivered."""
    rules.transition(release, "publish")
    release.published_at = naive_utc(when) or utcnow()
    audit.record(session, "system", "release.publish", _target(release),
                 {"at": release.published_at.isoformat()}, org_id=release.drafting_org_id)


def correct(session: Session, user: User, release: Release, title: str, body: str) -> Release:
    return _follow_up(session, user, release, "correct", "correction", title, body)


def withdraw(session: Session, user: User, release: Release, title: str, body: str) -> Release:
    return _follow_up(session, user, release, "withdraw", "withdrawal", title, body)


# --- diffs -----------------------------------------------------------------------------

class Segment(NamedTuple):
    op: str  # equal, insert, delete
    text: str


@dataclass(frozen=True)
class VersionDiff:
    a: int
    b: int
    title: list[Segment]
    body: list[Segment]


def diff(session: Session, release: Release, a: int, b: int) -> VersionDiff:
    """Version ``a`` against version ``b`` of a release the caller has already fetched
    with ``get_release`` (so the user may see it)."""
    old, new = _text(session, release, a), _text(session, release, b)
    return VersionDiff(a, b, diff_text(old[0], new[0]), diff_text(old[1], new[1]))


# the most pairs of equal items (lines, or characters inside changed blocks) one diff
# looks at, over all of difflib's steps: about 0.1 s; beyond it a block is shown whole,
# deleted and inserted
DIFF_PAIRS_MAX = 500_000


def diff_text(old: str, new: str) -> list[Segment]:
    """Line by line, then character by character inside changed lines: Chinese has no
    spaces to diff words by, and a whole changed line would hide a changed number.

    ``difflib`` takes time in the pairs of equal items it looks at, so the common start
    and end are taken off first, and the diff stops comparing once it has looked at
    ``DIFF_PAIRS_MAX`` pairs (``_BoundedMatcher``): a changed block too costly to diff by
    character is shown by line, lines too costly to match as one changed block."""
    segments: list[Segment] = []
    budget = _Budget()
    for op, a, b in _blocks(old.splitlines(keepends=True), new.splitlines(keepends=True), budget):
        if op == "equal":
            segments.append(Segment("equal", "".join(a)))
            continue
        for cop, x, y in _blocks("".join(a), "".join(b), budget):
            if cop == "equal":
                segments.append(Segment("equal", x))
                continue
            segments += [Segment("delete", x), Segment("insert", y)]
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].op == segment.op:
            merged[-1] = Segment(segment.op, merged[-1].text + segment.text)
        elif segment.text:
            merged.append(segment)
    return merged


class _TooCostly(Exception):
    """A diff would look at more pairs than its budget holds."""


@dataclass
class _Budget:
    """The pairs of equal items one diff may still look at."""

    left: int = DIFF_PAIRS_MAX


class _BoundedMatcher(difflib.SequenceMatcher):
    """``difflib``'s matcher that gives up (``_TooCostly``) before it looks at more pairs
    than ``budget`` holds. Each ``find_longest_match`` looks at every position in ``b`` of
    each item of ``a[alo:ahi]``, and it is called once per matching block, mostly over
    nearly the whole rest of ``a`` (the first of equally long matches is taken): a text
    with thousands of short matches costs thousands of times its pairs (20,000 characters
    with every 7th changed took 48 s), so the pairs are counted per call."""

    def __init__(self, a, b, budget: _Budget):
        super().__init__(None, a, b, autojunk=False)  # in Chinese text common characters are content, not noise
        self.budget = budget

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        self.budget.left -= (ahi - alo) + sum(len(self.b2j.get(item, ())) for item in self.a[alo:ahi])
        if self.budget.left < 0:
            raise _TooCostly
        return super().find_longest_match(alo, ahi, blo, bhi)


def _blocks(a, b, budget: _Budget):
    """(equal or replace, part of ``a``, part of ``b``) in order: the common start and
    end, and between them ``difflib``'s blocks while the budget lasts, else one replaced
    block. ``a`` and ``b`` are both strings or both lists of lines."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[len(a) - 1 - end] == b[len(b) - 1 - end]:
        end += 1
    middle_a, middle_b = a[start:len(a) - end], b[start:len(b) - end]
    blocks = [("equal", a[:start], b[:start])]
    try:
        blocks += [("equal" if op == "equal" else "replace", middle_a[i1:i2], middle_b[j1:j2])
                   for op, i1, i2, j1, j2 in _BoundedMatcher(middle_a, middle_b, budget).get_opcodes()]
    except _TooCostly:
        blocks.append(("replace", middle_a, middle_b))
    blocks.append(("equal", a[len(a) - end:], b[len(b) - end:]))
    return [block for block in blocks if block[1] or block[2]]


# --- helpers ---------------------------------------------------------------------------

def _new_release(session, user, incident, title, body, channel, required_org_ids, joint, kind,
                 corrects: Release | None = None) -> Release:
    if channel not in CHANNELS:
        raise Invalid("unknown_channel", channel=channel)
    _check_text(title, body)
    kinds = dict(session.execute(select(Organisation.id, Organisation.kind)).all())
    required = rules.required_orgs(user.org_id, required_org_ids, kinds, joint)
    release = Release(incident_id=incident.id, drafting_org_id=user.org_id, required_org_ids=required,
                      channel=channel, kind=kind, corrects_id=corrects.id if corrects else None,
                      state=ReleaseState.DRAFT,
                      rumor_clusters=[], created_by=user.id, created_at=utcnow())
    session.add(release)
    session.flush()
    _add_version(session, release, user, title, body)
    return release


def _follow_up(session, user, release, action, kind, title, body) -> Release:
    """A new draft linked to a published release, which itself stays as it is."""
    rules.check(action, user, release)
    incident = get_incident(session, release.incident_id)
    new = _new_release(session, user, incident, title, body, release.channel, release.required_org_ids, False,
                       kind, corrects=release)
    _audit(session, user, f"release.{action}", _target(release), {"new_release": new.id})
    return new


def _transition(session, user, release, action) -> None:
    rules.check(action, user, release)
    before = rules.transition(release, action)
    _audit(session, user, f"release.{action}", _target(release), {"from": before, "to": release.state})


def _refuse_blocked(session, release, config) -> None:
    found = blocking(problems(session, release, config))
    if found:
        raise Blocked(found)


_LIVE = (ReleaseState.APPROVED, ReleaseState.SCHEDULED, ReleaseState.PUBLISHED)


def _other_side(session, release) -> list[OtherRelease]:
    """The latest live release of each organisation of the other kind: approved, scheduled
    or published, not a withdrawal, and not superseded by a published correction or
    withdrawal."""
    orgs = {org.id: org for org in session.execute(select(Organisation)).scalars()}
    mine = orgs[release.drafting_org_id].kind
    rows = session.execute(select(Release).where(Release.incident_id == release.incident_id)
                           .order_by(Release.id)).scalars().all()
    superseded = {r.corrects_id for r in rows if r.corrects_id and r.state == ReleaseState.PUBLISHED}
    latest = {}
    for row in rows:
        if (row.id != release.id and orgs[row.drafting_org_id].kind != mine and row.kind != "withdrawal"
                and row.state in _LIVE and row.id not in superseded):
            latest[row.drafting_org_id] = row
    others = []
    for row in latest.values():
        text = current_version(session, row)
        others.append(OtherRelease(row.id, orgs[row.drafting_org_id].name, f"{text.title}\n{text.body}"))
    return others


def _add_version(session, release, user, title, body) -> Version:
    number = session.execute(select(Version.number).where(Version.release_id == release.id)
                             .order_by(Version.number.desc()).limit(1)).scalar() or 0
    version = Version(release_id=release.id, number=number + 1, title=title, body=body, author_id=user.id,
                      created_at=utcnow())
    session.add(version)
    session.flush()
    return version


def _text(session, release, number) -> tuple[str, str]:
    version = session.execute(select(Version).where(Version.release_id == release.id,
                                                    Version.number == number)).scalar()
    if version is None:
        raise NotFound("no_version", version=number)
    return version.title, version.body


def _check_text(title: str, body: str) -> None:
    check_text("title", title)
    check_text("body", body)
    if not title.strip() or not body.strip():
        raise Invalid("title_body")


def _comment(session, user, release, body, changes_requested=False) -> Comment:
    row = Comment(release_id=release.id, user_id=user.id, body=body.strip(), changes_requested=changes_requested,
                  created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def _audit(session, user, action, target, detail) -> None:
    audit.record(session, user.username, action, target, detail, org_id=user.org_id)


def _target(release: Release) -> str:
    return f"release:{release.id}"
