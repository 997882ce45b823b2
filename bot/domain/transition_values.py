"""What a transition is: the states it may move a record from, the typed fields it sets, its
guards, its audit event and the messages it owes. The transitions themselves are the functions
of `bot.domain.transitions`; the stores apply these values (`GrantStore.apply`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict

from bot.domain.grants import (
    AuditEvent,
    EndReason,
    Extension,
    ExtensionStatus,
    Grant,
    GrantStatus,
    MappedVia,
)
from bot.domain.notices import Notice, home_refresh


class GrantChanges(TypedDict, total=False):
    """The fields of a `Grant` a transition may set (the others never change)."""

    status: GrantStatus
    decided_by: str
    decided_at: datetime
    decision_note: str | None
    activated_at: datetime
    expires_at: datetime
    warned_at: datetime | None
    ended_at: datetime
    ended_by: str
    end_reason: EndReason
    end_detail: str
    k8s_username: str
    mapped_via: MappedVia
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    approval_channel: str
    approval_ts: str
    approvals: tuple[str, ...]
    reminded_at: datetime
    acknowledged_by: str
    acknowledged_at: datetime
    alert_channel: str
    alert_ts: str


class ExtensionChanges(TypedDict, total=False):
    status: ExtensionStatus
    decided_by: str
    decided_at: datetime
    decision_note: str | None
    approval_channel: str
    approval_ts: str


@dataclass(frozen=True)
class GrantTransition:
    grant_id: str
    expect: frozenset[GrantStatus]
    changes: GrantChanges
    event: AuditEvent | None = None
    notices: tuple[Notice, ...] = ()
    #: When set, the transition also needs the approvals to be exactly these (a vote counted
    #: against what it read: of two concurrent votes, one wins and the other re-reads).
    expect_approvals: tuple[str, ...] | None = None
    #: When set, the transition also needs nobody to have acknowledged the grant yet.
    expect_unacknowledged: bool = False
    #: When set, the transition also needs the last reminder to be the one it read (of two
    #: sweeps, one reminds).
    expect_reminder: LastReminder | None = None

    def applied_to(self, grant: Grant) -> Grant | None:
        """The grant after this transition, or None when it is in none of the expected states
        (what the store's conditional update does, for an in-memory record)."""
        if grant.id != self.grant_id or grant.status not in self.expect:
            return None
        if self.expect_approvals is not None and grant.approvals != self.expect_approvals:
            return None
        if self.expect_unacknowledged and grant.acknowledged_by is not None:
            return None
        if self.expect_reminder is not None and grant.reminded_at != self.expect_reminder.at:
            return None
        return replace(grant, **self.changes)

    @property
    def refreshes_home(self) -> bool:
        """Whether what the requester's App Home shows (state, time left) changes."""
        return bool(self.changes.keys() & {"status", "expires_at"})

    def owed(self, applied: Grant) -> tuple[Notice, ...]:
        """What the store writes to the outbox when this transition wins: its notices, and a
        refresh of the requester's App Home (`refreshes_home`)."""
        if self.refreshes_home:
            return (*self.notices, home_refresh(applied.id, applied.requester))
        return self.notices


@dataclass(frozen=True)
class LastReminder:
    """The reminder a transition read: `at` is None when none was sent yet."""

    at: datetime | None


@dataclass(frozen=True)
class ExtensionTransition:
    extension_id: str
    expect: frozenset[ExtensionStatus]
    changes: ExtensionChanges
    event: AuditEvent | None = None
    notices: tuple[Notice, ...] = ()

    def applied_to(self, extension: Extension) -> Extension | None:
        if extension.id != self.extension_id or extension.status not in self.expect:
            return None
        return replace(extension, **self.changes)
