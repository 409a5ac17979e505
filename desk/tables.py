"""The workflow's tables, in the store of record's database (SQLite or PostgreSQL).

They live beside the posts but in their own metadata: the crawl, tag and index stages
never touch them. Times are naive UTC, as in ``core.store``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.store import naive_utc, utcnow
from desk.states import AlertState, DeliveryStatus, ReleaseState, ReplayState

RELEASE_KINDS = ("release", "correction", "withdrawal")
FACT_KEYS = ("affected_areas", "households", "cause", "restoration_estimate", "hotline", "last_update")
REPLAY_KINDS = ("demo", "drill")
REPLAY_EVENT_KINDS = ("post", "release", "fact", "inject")


class WorkflowBase(DeclarativeBase):
    pass


def _stored(states: type[StrEnum]) -> Enum:
    """A column of states: stored by value in a plain VARCHAR(16), read back as the enum."""
    return Enum(states, native_enum=False, length=16, values_callable=lambda members: [m.value for m in members])


class Organisation(WorkflowBase):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # ORG_KINDS
    level: Mapped[str] = mapped_column(String(16))  # ORG_LEVELS
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))


class User(WorkflowBase):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    roles: Mapped[list] = mapped_column(JSON)  # a subset of ROLES
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


class LoginSession(WorkflowBase):
    """A login that is still open: the row is deleted at logout, when its user is
    disabled or given a new password, and (at a later login) once it has expired. The
    session cookie carries a random token; only its SHA-256 is kept here."""

    __tablename__ = "login_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's token, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Incident(WorkflowBase):
    """An outage crisis: its releases, its fact sheet, and the posts about it (``query``)."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(String(500), default="")  # the search that finds its posts
    major: Mapped[bool] = mapped_column(Boolean, default=True)  # a major incident: the shorter clocks
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Fact(WorkflowBase):
    """One value of one fact of an incident; the latest row of a key is current, the
    earlier ones are its history. ``value`` is text, except ``affected_areas``: a list."""

    __tablename__ = "facts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    key: Mapped[str] = mapped_column(String(32))  # FACT_KEYS
    value: Mapped[object] = mapped_column(JSON)
    owner_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class IncidentOrganisation(WorkflowBase):
    """An organisation named on an incident: beside the owner (the organisation of the
    user who opened it), the only ones that set or dispute its facts."""

    __tablename__ = "incident_organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    __table_args__ = (UniqueConstraint("incident_id", "org_id"),)


class FactProposal(WorkflowBase):
    """A value of a fact proposed by an organisation of the incident that does not own
    the fact: kept, and shown as a dispute while it differs from the owner's value."""

    __tablename__ = "fact_proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    key: Mapped[str] = mapped_column(String(32))  # FACT_KEYS
    value: Mapped[object] = mapped_column(JSON)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    proposed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Release(WorkflowBase):
    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    drafting_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    required_org_ids: Mapped[list] = mapped_column(JSON)  # who must approve (the drafting org included)
    channel: Mapped[str] = mapped_column(String(16))  # CHANNELS
    kind: Mapped[str] = mapped_column(String(16), default="release")  # RELEASE_KINDS
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))  # the published release it corrects or withdraws
    state: Mapped[ReleaseState] = mapped_column(_stored(ReleaseState), default=ReleaseState.DRAFT)
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    rumor_clusters: Mapped[list] = mapped_column(JSON, default=list)  # near-duplicate clusters it answers
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Version(WorkflowBase):
    """Every saved text of a release; never changed once written."""

    __tablename__ = "release_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("release_id", "number"),)


class Approval(WorkflowBase):
    """An organisation's sign-off of a release at one version; ``cleared_at`` is set when
    text it signed off changes."""

    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime)


class Comment(WorkflowBase):
    __tablename__ = "release_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    changes_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(WorkflowBase):
    """Append-only; each entry's hash covers its content and the previous entry's hash."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # a username, or "system"
    org_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)  # the escalations seen (alerts._escalated_to)
    target: Mapped[str] = mapped_column(String(100), default="")  # e.g. "release:12"
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Delivery(WorkflowBase):
    """One release to one channel of one organisation, due at the release's time."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel: Mapped[str] = mapped_column(String(100))  # the channel's name in the channels file
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[DeliveryStatus] = mapped_column(_stored(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class WorkflowLock(WorkflowBase):
    """One row that every workflow change updates first (``audit.lock``): the database
    then runs those changes one after another."""

    __tablename__ = "workflow_lock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class AlertScheme(WorkflowBase):
    """A monitoring scheme (监测方案): a saved search, in the fields of the query model it
    uses, that its alert rules watch for an organisation. A removed scheme keeps its row
    (its alerts are the record) with ``removed_at`` set."""

    __tablename__ = "alert_schemes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)  # unique among those not removed
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    text: Mapped[str] = mapped_column(String(200), default="")  # words, OR, NOT exclusions (indexes.query)
    platforms: Mapped[list] = mapped_column(JSON, default=list)
    places: Mapped[list] = mapped_column(JSON, default=list)  # administrative codes
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)


class AlertRule(WorkflowBase):
    """A rule of a kind (``desk.alert_rules.KINDS``) on a scheme: its parameters, and the
    thresholds of its figure that reach levels III, II and I (level IV is firing at all)."""

    __tablename__ = "alert_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("alert_schemes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    levels: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Alert(WorkflowBase):
    """A warning (预警) that a rule fired for a key (the word of a keyword rule; the window
    of the others), updated while the condition lasts, with its evidence: the figures
    against their baseline, the top posts, the first post's time and the search-page query
    (a URL query string for ``/``) that shows its posts."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id"))
    key: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(4))  # IV, III, II, I
    state: Mapped[AlertState] = mapped_column(_stored(AlertState), default=AlertState.NEW)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)  # the last evaluation that found the condition
    first_post_at: Mapped[datetime | None] = mapped_column(DateTime)
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    post_ids: Mapped[list] = mapped_column(JSON, default=list)
    query: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))  # the release that answers it
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_to_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # the last step's
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)  # the incident it is part of
    __table_args__ = (Index("ix_alerts_rule_id_key", "rule_id", "key"),)


class WatchedAccount(WorkflowBase):
    """An account an organisation watches on a platform (重点账号): its posts are worth a
    warning of their own."""

    __tablename__ = "watched_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    platform: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(200))
    account_name: Mapped[str] = mapped_column(String(200), default="")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("org_id", "platform", "account_id"),)


class SensitiveWord(WorkflowBase):
    """A word an organisation's keyword rules watch for besides the shipped list."""

    __tablename__ = "sensitive_words"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    word: Mapped[str] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("org_id", "word"),)


class AlertRecipient(WorkflowBase):
    """Who a scheme's alerts go to: a channel of an organisation in the channels file, for
    a person when ``user_id`` is set (their quiet hours apply). ``on_escalation`` rows are
    the departments copied when an alert is escalated: every channel of ``org_id``."""

    __tablename__ = "alert_recipients"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("alert_schemes.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel: Mapped[str | None] = mapped_column(String(100))  # None: every channel of the organisation
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_escalation: Mapped[bool] = mapped_column(Boolean, default=False)


class QuietHours(WorkflowBase):
    """When a person is sent only alerts of levels II and I: from ``starts`` to ``ends``
    ("22:00", "07:00"), China time, across midnight when ``ends`` is the earlier."""

    __tablename__ = "quiet_hours"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    starts: Mapped[str] = mapped_column(String(5))
    ends: Mapped[str] = mapped_column(String(5))


class AlertDelivery(WorkflowBase):
    """One notice of an alert (opened, its level raised, escalated) to one channel, for a
    person or not: the alert outbox, retried as the release outbox is."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # opened, raised, escalated
    level: Mapped[str] = mapped_column(String(4))  # the alert's level when it was queued
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[DeliveryStatus] = mapped_column(_stored(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class KeptReport(WorkflowBase):
    """A briefing as it was made (``desk.report_archive``): its figures (``Report.as_dict``),
    from which each format is rendered again, and who made it for which organisation. A
    daily report the scheduler made carries its day in ``scheduled_day``, unique with its
    organisation, so that two schedulers or a restart make an organisation's day once."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("scheduled_day", "org_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # REPORT_KINDS
    title: Mapped[str] = mapped_column(String(300))
    query: Mapped[str] = mapped_column(String(500), default="")
    since: Mapped[datetime] = mapped_column(DateTime)
    until: Mapped[datetime] = mapped_column(DateTime)
    made_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    made_by: Mapped[str] = mapped_column(String(64))  # a username, or "scheduler"
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # None: seen by all
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    total_posts: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict] = mapped_column(JSON)
    scheduled_day: Mapped[date | None] = mapped_column(Date)


class ReportDelivery(WorkflowBase):
    """A kept report's notice to one channel of an organisation, retried as an alert's is."""

    __tablename__ = "report_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[DeliveryStatus] = mapped_column(_stored(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)


class Replay(WorkflowBase):
    """A scenario played against the clock in this home (``desk.replay``): a demo, or a drill
    in a home of its own. Its clock runs ``speed`` times as fast as the wall clock from
    ``started_at``, less its pauses: ``pauses`` holds each finished one as a pair of ISO
    times (naive UTC), ``paused_at`` the one going on."""

    __tablename__ = "replays"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario: Mapped[str] = mapped_column(String(100))  # the scenario's name
    kind: Mapped[str] = mapped_column(String(8))  # REPLAY_KINDS
    speed: Mapped[float] = mapped_column(Float)
    length: Mapped[float] = mapped_column(Float)  # the scenario's length, seconds of its time
    state: Mapped[ReplayState] = mapped_column(_stored(ReplayState), default=ReplayState.READY)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    pauses: Mapped[list] = mapped_column(JSON, default=list)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    org_ids: Mapped[list] = mapped_column(JSON, default=list)  # the organisations taking part
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))  # a drill's report, once made

    def offset_at(self, now: datetime) -> timedelta:
        """The scenario time reached at wall time ``now``: none while ready, none gained
        while paused or after the end, never past the scenario's length."""
        if self.started_at is None:
            return timedelta(0)
        now = naive_utc(now)
        if self.ended_at is not None:
            now = min(now, self.ended_at)
        paused = sum((max(min(end, now) - begin, timedelta(0)) for begin, end in self._pauses(now)), timedelta(0))
        reached = (now - self.started_at - paused) * self.speed
        return min(max(reached, timedelta(0)), timedelta(seconds=self.length))

    def appeared_at(self, offset: timedelta) -> datetime:
        """The wall time (aware, UTC) at which the scenario reached ``offset``: the time
        its entries there are dated, so that every view agrees. For an offset not reached
        yet, the time it will be reached if the replay runs on from now (a ready replay
        as if it ran now, a paused one as if it resumed now)."""
        now = utcnow()
        at = (self.started_at or now) + offset / self.speed
        for begin, end in sorted(self._pauses(max(now, self.paused_at or now))):
            if begin < at:  # an entry due at a pause's first instant appeared before it
                at += end - begin
        return at.replace(tzinfo=timezone.utc)

    def _pauses(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """Each pause as (began, ended): the one going on ends ``now``."""
        spans = [(datetime.fromisoformat(begin), datetime.fromisoformat(end)) for begin, end in self.pauses]
        if self.paused_at is not None:
            spans.append((self.paused_at, now))
        return spans


class ReplayEvent(WorkflowBase):
    """An entry of a replay's scenario that has been played (a fact set, a release
    published, an inject sent): once each, whatever kills the player meanwhile."""

    __tablename__ = "replay_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    replay_id: Mapped[int] = mapped_column(ForeignKey("replays.id"))
    entry_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))  # REPLAY_EVENT_KINDS
    done_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("replay_id", "entry_id"),)


class InjectNotice(WorkflowBase):
    """A sent inject's notice to one channel of its team's organisation, queued with the
    inject and retried as a kept report's is (``desk.injects``); its title and text are
    the inject's as it was sent."""

    __tablename__ = "inject_notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("replay_events.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    channel: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[DeliveryStatus] = mapped_column(_stored(DeliveryStatus), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
