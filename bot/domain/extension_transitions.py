"""The state changes of an extension, and of the grant it extends, as values.

    extension: pending ──decide_extension──▶ approved / denied;  ──time_out_extension──▶ timed_out
    grant: active ──extend (an extension taking effect)──▶ active, with a later expiry

As in `bot.domain.transitions`: each function takes the record as read and `now`, and returns
the states it may move from, the fields it sets, the audit event and the notices it owes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.durations import format_duration
from bot.domain.grants import SYSTEM, AuditEvent, Extension, ExtensionStatus, Grant, GrantStatus
from bot.domain.notices import Notice, NoticeKind, TimelineEvent, timeline
from bot.domain.transition_values import ExtensionTransition, GrantTransition


def extension_requested(extension: Extension) -> tuple[Notice, ...]:
    return (Notice(NoticeKind.EXTENSION_REQUESTED, extension.grant_id, extension.id),)


def extend(grant: Grant, *, by: timedelta, actor: str, now: datetime) -> GrantTransition:
    """Move the expiry; the warning is due again before the new one."""
    assert grant.expires_at is not None
    new_expiry = grant.expires_at + by
    return GrantTransition(
        grant.id,
        frozenset({GrantStatus.ACTIVE}),
        {"expires_at": new_expiry, "warned_at": None},
        AuditEvent(
            now,
            actor,
            "grant.extended",
            grant.id,
            f"+{format_duration(by)} until {new_expiry.isoformat()}",
        ),
        (timeline(grant.id, TimelineEvent.EXTENDED),),
    )


_EXTENSION_PENDING = frozenset({ExtensionStatus.PENDING})


def decide_extension(
    extension: Extension, *, actor: str, approve: bool, note: str, now: datetime
) -> ExtensionTransition:
    status = ExtensionStatus.APPROVED if approve else ExtensionStatus.DENIED
    return ExtensionTransition(
        extension.id,
        _EXTENSION_PENDING,
        {"status": status, "decided_by": actor, "decided_at": now, "decision_note": note or None},
        AuditEvent(now, actor, f"extension.{status.value}", extension.grant_id, extension.id),
        (Notice(NoticeKind.EXTENSION_DECIDED, extension.grant_id, extension.id),),
    )


def time_out_extension(extension: Extension, *, now: datetime) -> ExtensionTransition:
    return ExtensionTransition(
        extension.id,
        _EXTENSION_PENDING,
        {"status": ExtensionStatus.TIMED_OUT, "decided_at": now},
        AuditEvent(now, SYSTEM, "extension.timed_out", extension.grant_id, extension.id),
        (Notice(NoticeKind.EXTENSION_DECIDED, extension.grant_id, extension.id),),
    )


def note_extension_message(extension: Extension, *, channel: str, ts: str) -> ExtensionTransition:
    return ExtensionTransition(
        extension.id,
        frozenset(ExtensionStatus),
        {"approval_channel": channel, "approval_ts": ts},
    )
