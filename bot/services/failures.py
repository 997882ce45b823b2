"""What happens when an external step fails transiently: back off, retry, alert once."""

from __future__ import annotations

from datetime import datetime

from bot.domain import transitions
from bot.domain.grants import Grant
from bot.services.deps import Deps


def schedule_retry(
    deps: Deps, grant: Grant, error: Exception, *, step: str, now: datetime
) -> Grant:
    """Record the failure on the grant and when the sweep may try again.

    The grant keeps its state (activating/revoking), which is what users and approvers see;
    the alert channel hears of it once, when the failures reach the threshold.
    """
    retry_at = now + deps.retry.delay(grant.attempts + 1)
    updated = deps.store.apply(
        transitions.retry_later(
            grant,
            step=step,
            error=str(error),
            now=now,
            retry_at=retry_at,
            alert_after=deps.retry.alert_after,
        )
    )
    return updated or grant
