"""The replies in an approval message's thread: the grant's life after its approval."""

from __future__ import annotations

from bot.adapters.slack.blocks import escape, when
from bot.domain.grants import Grant
from bot.domain.notices import TimelineEvent


def timeline_text(grant: Grant, event: TimelineEvent) -> str:
    """One line per step; read from the grant when delivered, so an expiry shows the latest."""
    if event is TimelineEvent.ACTIVE:
        return (
            f":white_check_mark: Active: <@{grant.requester}> has *{grant.profile}* on "
            f"`{grant.cluster}`/`{grant.namespace}` until {when(grant.expires_at)}."
        )
    if event is TimelineEvent.EXTENDED:
        return f":hourglass: Extended: now ends {when(grant.expires_at)}."
    if event is TimelineEvent.REVOKED:
        return f":lock: Revoked by <@{grant.ended_by}>; access has ended."
    if event is TimelineEvent.FAILED:
        detail = escape(grant.end_detail or "unknown error")
        return f":x: Could not be applied: {detail}. Nothing was left behind."
    return ":lock: Expired; access has been removed."
