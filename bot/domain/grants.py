"""Access requests and the grants they become: the records and their states.

The transitions between the states are values, one function each, in
`bot.domain.transitions`. Every external step is idempotent, and each state is written before
the step it announces, so a crash between any two steps is finished by the sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.principals import Identity


class GrantStatus(StrEnum):
    PENDING = "pending"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    ACTIVATING = "activating"
    ACTIVE = "active"
    REVOKING = "revoking"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class MappedVia(StrEnum):
    """How the grant's identity is mapped to its Kubernetes username in the cluster."""

    #: The bot's own entry in kube-system/aws-auth.
    AWS_AUTH = "aws-auth"
    #: The bot's own EKS access entry.
    ACCESS_ENTRY = "access-entry"
    #: A mapping the bot did not create (and never touches): its username is bound.
    EXISTING = "existing"

    @property
    def owned(self) -> bool:
        return self is not MappedVia.EXISTING


@dataclass(frozen=True)
class MappedIdentity:
    """What mapping an identity gave: the username to bind, and which mapping gives it."""

    username: str
    via: MappedVia


class EndReason(StrEnum):
    EXPIRED = "expired"
    REVOKED = "revoked"
    FAILED = "failed"


#: States whose grant needs (or may need) its identity mapping in the cluster.
HOLDS_ACCESS = frozenset({GrantStatus.ACTIVATING, GrantStatus.ACTIVE})
OPEN = frozenset(
    {GrantStatus.PENDING, GrantStatus.ACTIVATING, GrantStatus.ACTIVE, GrantStatus.REVOKING}
)


@dataclass(frozen=True)
class Grant:
    id: str
    requester: str
    principal_arn: str
    profile: str
    cluster: str
    namespace: str
    duration: timedelta
    reason: str
    status: GrantStatus
    created_at: datetime
    pending_until: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    activated_at: datetime | None = None
    expires_at: datetime | None = None
    warned_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    end_reason: EndReason | None = None
    end_detail: str | None = None
    k8s_username: str | None = None
    mapped_via: MappedVia | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    approval_channel: str | None = None
    approval_ts: str | None = None
    #: The STS session name of the requester on a shared role (IAM Identity Center).
    session_name: str | None = None
    #: Who approved so far, in order (a request needing several approvals collects them here).
    approvals: tuple[str, ...] = ()
    reminded_at: datetime | None = None
    #: Applied at once by break-glass, without approval; approvers acknowledge it afterwards.
    break_glass: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    #: Where the break-glass announcement in the alert channel is.
    alert_channel: str | None = None
    alert_ts: str | None = None

    @property
    def identity(self) -> Identity:
        return Identity.parse(self.principal_arn, self.session_name)

    def time_left(self, now: datetime) -> timedelta:
        if self.expires_at is None:
            return timedelta(0)
        return max(self.expires_at - now, timedelta(0))


@dataclass(frozen=True, slots=True)
class GrantRef:
    """The few columns reconcile compares with the cluster, for every live grant at once."""

    id: str
    status: GrantStatus
    profile: str
    namespace: str
    principal_arn: str
    k8s_username: str | None
    session_name: str | None = None
    mapped_via: MappedVia | None = None

    @property
    def identity(self) -> Identity:
        return Identity.parse(self.principal_arn, self.session_name)


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Extension:
    id: str
    grant_id: str
    requested_by: str
    duration: timedelta
    status: ExtensionStatus
    created_at: datetime
    pending_until: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    approval_channel: str | None = None
    approval_ts: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """Who did what to which request, when. Written in the same transaction as the change."""

    at: datetime
    actor: str  # Slack user id, or "system"
    action: str  # e.g. "request.created", "grant.activated", "click.refused"
    grant_id: str | None = None
    detail: str = ""


#: The actor of what the bot does by itself (expiry, sweep, reconcile).
SYSTEM = "system"
