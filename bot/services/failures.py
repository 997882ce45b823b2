"""What happens when an external step fails transiently: back off, retry, alert once."""

from __future__ import annotations

from datetime import datetime

from bot.domain import transitions
from bot.domain.grants import Grant, GrantStatus
from bot.domain.ports import StillFailing
from bot.services.deps import Deps


def schedule_retry(
    deps: Deps, grant: Grant, error: Exception, *, step: str, now: datetime
) -> Grant:
    """Record the failure on the grant and when the sweep may try again.

    The grant keeps its state (activating/revoking), which is what users and approvers see;
    the alert channel hears of it once, when the failures reach the threshold.
    """
    attempts = grant.attempts + 1
    retry_at = now + deps.retry.delay(attempts)
    updated = deps.store.apply(
        transitions.retry_later(grant, step=step, error=str(error), now=now, retry_at=retry_at)
    )
    if attempts == 1 and grant.status is GrantStatus.ACTIVATING and updated is not None:
        deps.notifier.grant_delayed(updated)
    if attempts == deps.retry.alert_after:
        deps.notifier.alert(StillFailing(updated or grant, str(error)))
    return updated or grant
