"""Every state change of a request or a grant, as a value.

    pending ──approve──▶ activating ──activated──▶ active ──expire / revoke──▶ revoking ──end──▶ ended
       │ deny, time_out, cancel        │ abandon (permanent failure, or expired first) ─▶ revoking
       ▼                               └ retry_later (transient failure: same state, a backoff)
    denied / timed_out / cancelled
    pending ──count_approval (a vote short of the quorum) / remind──▶ pending

Each function takes the record as read and `now`, and returns what the store needs: the
states the record may move from (the store's conditional update, so of two clicks, two
replicas or a retry exactly one wins), the typed fields it sets, the audit event, and the
notices (messages owed to people) written in the same transaction. Nothing here reads a clock
or a database. Extensions, and `extend`, are in `bot.domain.extension_transitions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.durations import format_duration
from bot.domain.grants import (
    SYSTEM,
    AuditEvent,
    EndReason,
    Grant,
    GrantStatus,
    MappedIdentity,
)
from bot.domain.notices import Notice, NoticeKind, TimelineEvent, timeline
from bot.domain.transition_values import GrantTransition, LastReminder

_PENDING = frozenset({GrantStatus.PENDING})


def _notices(grant_id: str, *kinds: NoticeKind) -> tuple[Notice, ...]:
    return tuple(Notice(kind, grant_id) for kind in kinds)


#: The approval message follows every decision and every end.
_UPDATED = NoticeKind.APPROVAL_UPDATED


def requested(grant: Grant) -> tuple[Notice, ...]:
    """What a new request owes: its approval message."""
    return _notices(grant.id, NoticeKind.APPROVAL_REQUESTED)


def request_created(grant: Grant) -> AuditEvent:
    """The audit event of a new request (or break-glass), at its creation."""
    return AuditEvent(
        grant.created_at,
        grant.requester,
        "request.created",
        grant.id,
        f"{grant.profile} {format_duration(grant.duration)} ns={grant.namespace}",
    )


_HOLDING = frozenset({GrantStatus.ACTIVATING, GrantStatus.ACTIVE})


# -- requests ----------------------------------------------------------------------------------


def approve(
    grant: Grant, *, actor: str, note: str, now: datetime, lease: timedelta, needed: int = 1
) -> GrantTransition:
    """The clock of the grant starts at approval. `lease`: how long the activation that
    follows holds the grant before the sweep may retry it. `needed`: the profile's quorum;
    this is its last vote, counted against the votes as read."""
    votes = (*grant.approvals, actor)
    detail = f"{len(votes)} of {needed}" + (f": {note}" if note else "") if needed > 1 else note
    return GrantTransition(
        grant.id,
        _PENDING,
        {
            "status": GrantStatus.ACTIVATING,
            "expires_at": now + grant.duration,
            "next_attempt_at": now + lease,
            "decided_by": actor,
            "decided_at": now,
            "decision_note": note or None,
            "approvals": votes,
        },
        AuditEvent(now, actor, "request.approved", grant.id, detail),
        _notices(grant.id, _UPDATED),
        expect_approvals=grant.approvals if needed > 1 else None,
    )


def count_approval(grant: Grant, *, actor: str, needed: int, now: datetime) -> GrantTransition:
    """A vote that does not complete the quorum yet: the request stays pending, and its
    approval message shows the progress. Counted against the votes as read, so of two
    concurrent votes one wins and the other is counted again on what it re-reads."""
    votes = (*grant.approvals, actor)
    return GrantTransition(
        grant.id,
        _PENDING,
        {"approvals": votes},
        AuditEvent(now, actor, "request.approval", grant.id, f"{len(votes)} of {needed}"),
        _notices(grant.id, _UPDATED),
        expect_approvals=grant.approvals,
    )


def remind(grant: Grant, *, now: datetime) -> GrantTransition:
    """A pending request brought back to its approvers' attention (once per reminder due)."""
    return GrantTransition(
        grant.id,
        _PENDING,
        {"reminded_at": now},
        AuditEvent(now, SYSTEM, "request.reminded", grant.id),
        _notices(grant.id, NoticeKind.REMINDER),
        expect_reminder=LastReminder(grant.reminded_at),
    )


def deny(grant: Grant, *, actor: str, note: str, now: datetime) -> GrantTransition:
    return GrantTransition(
        grant.id,
        _PENDING,
        {
            "status": GrantStatus.DENIED,
            "ended_at": now,
            "decided_by": actor,
            "decided_at": now,
            "decision_note": note or None,
        },
        AuditEvent(now, actor, "request.denied", grant.id, note),
        _notices(grant.id, _UPDATED, NoticeKind.GRANT_DENIED),
    )


def cancel(grant: Grant, *, actor: str, now: datetime) -> GrantTransition:
    """The requester (or an approver) withdraws a pending request."""
    return GrantTransition(
        grant.id,
        _PENDING,
        {"status": GrantStatus.CANCELLED, "ended_at": now, "ended_by": actor},
        AuditEvent(now, actor, "request.cancelled", grant.id),
        _notices(grant.id, _UPDATED),
    )


def time_out(grant: Grant, *, now: datetime) -> GrantTransition:
    return GrantTransition(
        grant.id,
        _PENDING,
        {"status": GrantStatus.TIMED_OUT, "ended_at": now},
        AuditEvent(now, SYSTEM, "request.timed_out", grant.id),
        _notices(grant.id, _UPDATED, NoticeKind.REQUEST_TIMED_OUT),
    )


def note_approval_message(grant: Grant, *, channel: str, ts: str) -> GrantTransition:
    """Where the approval message is, so its buttons can be replaced later (any state: a fast
    decision may come before this is written)."""
    return GrantTransition(
        grant.id, frozenset(GrantStatus), {"approval_channel": channel, "approval_ts": ts}
    )


# -- grants ------------------------------------------------------------------------------------


def activated(grant: Grant, *, mapped: MappedIdentity, now: datetime) -> GrantTransition:
    """Both cluster steps are done: the identity is mapped and the RoleBinding exists."""
    assert grant.expires_at is not None
    return GrantTransition(
        grant.id,
        frozenset({GrantStatus.ACTIVATING}),
        {
            "status": GrantStatus.ACTIVE,
            "k8s_username": mapped.username,
            "mapped_via": mapped.via,
            "activated_at": now,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
        },
        AuditEvent(
            now,
            SYSTEM,
            "grant.activated",
            grant.id,
            f"as {mapped.username} until {grant.expires_at.isoformat()}",
        ),
        (
            *_notices(grant.id, _UPDATED, NoticeKind.GRANT_ACTIVE),
            timeline(grant.id, TimelineEvent.ACTIVE),
        ),
    )


def abandon(
    grant: Grant, *, reason: EndReason, detail: str, now: datetime, lease: timedelta
) -> GrantTransition:
    """An activation that cannot finish (a permanent failure, or expired before it could be
    applied): clean up whatever was applied, as a revocation does."""
    return GrantTransition(
        grant.id,
        frozenset({GrantStatus.ACTIVATING}),
        {
            "status": GrantStatus.REVOKING,
            "end_reason": reason,
            "end_detail": detail,
            "ended_by": SYSTEM,
            "next_attempt_at": now + lease,
        },
        AuditEvent(now, SYSTEM, f"grant.{reason.value}", grant.id, detail),
        _notices(grant.id, NoticeKind.ACTIVATION_FAILED) if reason is EndReason.FAILED else (),
    )


def expire(grant: Grant, *, now: datetime, retry_at: datetime) -> GrantTransition:
    """`retry_at`: when the sweep may take the cleanup over (now, when the caller will not
    reach the cluster itself)."""
    return GrantTransition(
        grant.id,
        _HOLDING,
        {
            "status": GrantStatus.REVOKING,
            "end_reason": EndReason.EXPIRED,
            "ended_by": SYSTEM,
            "next_attempt_at": retry_at,
            "attempts": 0,
        },
        AuditEvent(now, SYSTEM, "grant.expired", grant.id),
    )


def revoke(grant: Grant, *, actor: str, now: datetime, lease: timedelta) -> GrantTransition:
    return GrantTransition(
        grant.id,
        _HOLDING,
        {
            "status": GrantStatus.REVOKING,
            "end_reason": EndReason.REVOKED,
            "ended_by": actor,
            "next_attempt_at": now + lease,
            "attempts": 0,
        },
        AuditEvent(now, actor, "grant.revoked", grant.id),
    )


def end(grant: Grant, *, now: datetime) -> GrantTransition:
    """The cluster holds nothing of the grant any more."""
    return GrantTransition(
        grant.id,
        frozenset({GrantStatus.REVOKING}),
        {"status": GrantStatus.ENDED, "ended_at": now, "next_attempt_at": None, "last_error": None},
        AuditEvent(
            now,
            grant.ended_by or SYSTEM,
            "grant.ended",
            grant.id,
            grant.end_reason.value if grant.end_reason else "",
        ),
        (*_notices(grant.id, _UPDATED, NoticeKind.GRANT_ENDED), timeline(grant.id, _ended(grant))),
    )


def _ended(grant: Grant) -> TimelineEvent:
    """How the approval thread tells the end (an end without a reason is an expiry)."""
    if grant.end_reason is EndReason.REVOKED:
        return TimelineEvent.REVOKED
    if grant.end_reason is EndReason.FAILED:
        return TimelineEvent.FAILED
    return TimelineEvent.EXPIRED


def retry_later(
    grant: Grant, *, step: str, error: str, now: datetime, retry_at: datetime, alert_after: int
) -> GrantTransition:
    """A cluster step failed transiently: the grant keeps its state (what users see) and
    records the failure and when the sweep may try again. The requester hears of the first
    failed activation; the alert channel, once, of the `alert_after`-th failure in a row."""
    error = error[:500]
    attempts = grant.attempts + 1
    notices: tuple[Notice, ...] = ()
    if attempts == 1 and grant.status is GrantStatus.ACTIVATING:
        notices += _notices(grant.id, NoticeKind.GRANT_DELAYED)
    if attempts == alert_after:
        notices += (Notice(NoticeKind.STILL_FAILING, grant.id, detail=error),)
    return GrantTransition(
        grant.id,
        frozenset({grant.status}),
        {"attempts": attempts, "next_attempt_at": retry_at, "last_error": error},
        AuditEvent(now, SYSTEM, f"{step}.retry", grant.id, error),
        notices,
    )


def warn(grant: Grant, *, now: datetime) -> GrantTransition:
    return GrantTransition(
        grant.id,
        frozenset({GrantStatus.ACTIVE}),
        {"warned_at": now},
        AuditEvent(now, SYSTEM, "grant.warned", grant.id),
        _notices(grant.id, NoticeKind.EXPIRY_WARNING),
    )
