"""What the bot owes people after a state change: one row per message, written in the same
transaction as the change, and delivered by the outbox worker (at least once, in order per
grant, until Slack takes it or the bot gives up and records why).

A notice names what happened, not how it reads: the Slack adapter renders it from the grant
(and extension) as they are when it is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class NoticeKind(StrEnum):
    #: The approval message with its buttons, in the profile's approval channel.
    APPROVAL_REQUESTED = "approval_requested"
    #: The approval message shows the request's current state (buttons gone once decided).
    APPROVAL_UPDATED = "approval_updated"
    #: Break-glass: access applied without approval, announced with @here in the approval
    #: and alert channels (the approval message of the grant, and its alert message).
    BREAK_GLASS = "break_glass"
    #: A reply in the approval message's thread: the request still waits for a decision.
    REMINDER = "reminder"
    GRANT_ACTIVE = "grant_active"
    GRANT_DENIED = "grant_denied"
    GRANT_ENDED = "grant_ended"
    #: Approved, but the cluster is not answering yet: the bot keeps trying.
    GRANT_DELAYED = "grant_delayed"
    REQUEST_TIMED_OUT = "request_timed_out"
    EXPIRY_WARNING = "expiry_warning"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    #: Alerts, for the alert channel: an approved grant could not be applied…
    ACTIVATION_FAILED = "activation_failed"
    #: …or a cluster step keeps failing (`detail`: the last error).
    STILL_FAILING = "still_failing"
    #: The requester's App Home is published again (`detail`: their user id). Owed by the
    #: store with every change of a grant's state or expiry (`GrantTransition.owed`).
    HOME_REFRESH = "home_refresh"
    #: A reply in the approval message's thread (`detail`: a `TimelineEvent`).
    TIMELINE = "timeline"


class TimelineEvent(StrEnum):
    """What a TIMELINE reply tells: the grant's life after its approval, step by step."""

    ACTIVE = "active"
    EXTENDED = "extended"
    REVOKED = "revoked"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    grant_id: str
    extension_id: str | None = None
    detail: str = ""


def home_refresh(grant_id: str, requester: str) -> Notice:
    """The requester's App Home shows this grant: publish it again."""
    return Notice(NoticeKind.HOME_REFRESH, grant_id, detail=requester)


def timeline(grant_id: str, event: TimelineEvent) -> Notice:
    return Notice(NoticeKind.TIMELINE, grant_id, detail=str(event))


@dataclass(frozen=True)
class OwedNotice:
    """A notice waiting in the outbox."""

    id: int
    notice: Notice
    attempts: int
    created_at: datetime
    #: When the worker may try it (again).
    due_at: datetime
