"""What happens when an external step fails transiently: back off, retry, alert once."""

from __future__ import annotations

from datetime import datetime

from bot.domain import transitions
from bot.domain.grants import Grant, GrantStatus
from bot.services.deps import Deps


def schedule_retry(
    deps: Deps, grant: Grant, error: Exception, *, step: str, now: datetime
) -> Grant:
    """Record the failure on the grant and when the sweep may try again.

    The grant keeps its state (activating/revoking), which is what users and approvers see;
    the approvers are alerted once, when the failures pass the threshold.
    """
    attempts = grant.attempts + 1
    retry_at = now + deps.retry.delay(attempts)
    updated = deps.store.apply(
        transitions.retry_later(grant, step=step, error=str(error), now=now, retry_at=retry_at)
    )
    if attempts == 1 and grant.status is GrantStatus.ACTIVATING and updated is not None:
        deps.notifier.grant_delayed(updated)
    if attempts == deps.retry.alert_after:
        verb = "revoke" if grant.status is GrantStatus.REVOKING else "activate"
        deps.notifier.alert(
            f":warning: eks-access cannot {verb} grant `{grant.id}` (<@{grant.requester}>, "
            f"`{grant.profile}` on `{grant.cluster}`/`{grant.namespace}`) after {attempts} "
            f"attempts: {error}. It keeps retrying."
        )
    return updated or grant
