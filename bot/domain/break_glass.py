"""Break-glass: access applied at once, without approval, announced to the approvers, who
acknowledge it afterwards. The records and transitions it needs, as values (the rest of its
life — activation, expiry, revocation — is any grant's)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.grants import SYSTEM, AuditEvent, Grant, GrantStatus
from bot.domain.notices import Notice, NoticeKind
from bot.domain.transition_values import GrantTransition
from bot.domain.transitions import request_created

#: Every state a break-glass grant can be in: it is never pending (nor denied, timed out…).
_DECIDED = frozenset(GrantStatus) - {GrantStatus.PENDING}


@dataclass(frozen=True)
class BreakGlassRecord:
    """What the store writes at once: the grant, already decided, and its two audit events."""

    grant: Grant
    created: AuditEvent
    broken: AuditEvent
    notices: tuple[Notice, ...]


def break_glass(grant: Grant, *, now: datetime, lease: timedelta) -> BreakGlassRecord:
    """`grant`: the request as checked (pending). It becomes `activating`, decided by the
    bot itself, with its clock started; `lease`: how long the activation that follows holds
    it before the sweep may take it over (after a crash)."""
    decided = replace(
        grant,
        status=GrantStatus.ACTIVATING,
        pending_until=now,
        decided_by=SYSTEM,
        decided_at=now,
        decision_note=f"break-glass: {grant.reason}",
        expires_at=now + grant.duration,
        next_attempt_at=now + lease,
        break_glass=True,
    )
    return BreakGlassRecord(
        decided,
        request_created(grant),
        AuditEvent(now, grant.requester, "grant.break_glass", grant.id, grant.reason),
        (Notice(NoticeKind.BREAK_GLASS, grant.id),),
    )


def acknowledge(grant: Grant, *, actor: str, now: datetime) -> GrantTransition:
    """An approver has seen it. Once: of two clicks, the second finds it acknowledged."""
    return GrantTransition(
        grant.id,
        _DECIDED,
        {"acknowledged_by": actor, "acknowledged_at": now},
        AuditEvent(now, actor, "grant.acknowledged", grant.id),
        (Notice(NoticeKind.APPROVAL_UPDATED, grant.id),),
        expect_unacknowledged=True,
    )


def note_alert_message(grant: Grant, *, channel: str, ts: str) -> GrantTransition:
    """Where the announcement in the alert channel is (any state, as the approval message's)."""
    return GrantTransition(
        grant.id, frozenset(GrantStatus), {"alert_channel": channel, "alert_ts": ts}
    )
