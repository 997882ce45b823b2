"""A request the profile's `auto_approve` rule approves by itself: it is stored approved, in
the one transaction that creates it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.domain.grants import SYSTEM, AuditEvent, Grant, GrantStatus

#: The decision note and audit detail of a request the bot approved by itself.
AUTO_APPROVED = "auto-approved by rule"


def auto_approved(request: Grant, *, now: datetime, lease: timedelta) -> tuple[Grant, AuditEvent]:
    """The request as the bot approves it (activating, its clock started), and the approval's
    audit event. `lease`: how long the activation that follows holds the grant before the
    sweep may take it over (a crash right after the commit)."""
    grant = replace(
        request,
        status=GrantStatus.ACTIVATING,
        decided_by=SYSTEM,
        decided_at=now,
        decision_note=AUTO_APPROVED,
        expires_at=now + request.duration,
        next_attempt_at=now + lease,
    )
    return grant, AuditEvent(now, SYSTEM, "request.approved", grant.id, AUTO_APPROVED)
