"""A grant reached its expiry: revoke it (called by the precise timer and by the sweep)."""

from __future__ import annotations

from bot.domain import transitions
from bot.domain.grants import Grant, GrantStatus
from bot.services.deps import Deps
from bot.services.finish_revocation import FinishRevocation


class ExpireGrant:
    """Idempotent and safe to call early or twice: an extended grant is left alone (and its
    timer set again), an ended one is returned as is."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, reach_cluster: bool = True) -> Grant | None:
        """`reach_cluster=False` only records the expiry (state `revoking`, due for the next
        sweep): the sweep does that for a cluster that has just failed to answer."""
        deps = self.deps
        grant = deps.store.get_grant(grant_id)
        if grant is None or grant.expires_at is None:
            return grant
        if grant.status is GrantStatus.REVOKING:
            return FinishRevocation(deps).execute(grant_id=grant.id) if reach_cluster else grant
        if grant.status not in (GrantStatus.ACTIVE, GrantStatus.ACTIVATING):
            return grant
        now = deps.clock.now()
        if grant.expires_at > now:
            deps.timers.schedule(grant.id, grant.expires_at)
            return grant
        # Not reaching the cluster: the sweep may take the cleanup over at once.
        retry_at = now + deps.retry.lease if reach_cluster else now
        revoking = deps.store.apply(transitions.expire(grant, now=now, retry_at=retry_at))
        if revoking is None:
            return deps.store.get_grant(grant.id)
        if not reach_cluster:
            return revoking
        return FinishRevocation(deps).execute(grant_id=grant.id)
