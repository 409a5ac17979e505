"""The states of a release, a delivery and an alert: the one place that names them. Their values
are what the database, the JSON payloads, the templates and the URLs hold; a ``StrEnum``
equals its value, so code and templates may compare it with a plain string. Which step
leads from one state to another is the table in ``desk.rules``."""

from __future__ import annotations

from enum import StrEnum


class ReleaseState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"  # every required organisation approved the current text
    SCHEDULED = "scheduled"  # in the outbox, due at its time
    PUBLISHED = "published"  # every channel has it


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at its time, or waiting for its next attempt
    SENDING = "sending"  # claimed by a publisher for a lease
    HELD = "held"  # not sent: the release contradicts the fact sheet now
    DELIVERED = "delivered"
    FAILED = "failed"  # out of attempts: an admin retries it
    CANCELLED = "cancelled"  # the release was unscheduled; kept as the record


class AlertState(StrEnum):
    NEW = "new"  # 待研判: nobody has assessed it yet
    HANDLING = "handling"  # 处置中: acknowledged or assigned
    ANSWERED = "answered"  # 已回应: a release answers it
    CLOSED = "closed"  # 已关闭


class ReplayState(StrEnum):
    """Where a replay of a scenario stands (``desk.replay``)."""

    READY = "ready"  # started, its clock not yet running (a drill waits for its director)
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"
