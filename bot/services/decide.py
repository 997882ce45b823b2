"""An approver clicks Approve or Deny on a pending request."""

from __future__ import annotations

from bot.domain import transitions
from bot.domain.grants import Grant, GrantStatus
from bot.domain.refusals import AlreadyDecided, RequestTimedOut
from bot.services.activate import ActivateGrant
from bot.services.approval import check_approver
from bot.services.deps import Deps


class DecideRequest:
    """Approve or deny a pending request, exactly once.

    The decision is a conditional update `pending -> activating|denied`: of two clicks, two
    replicas or a Slack retry, exactly one wins; the others get "already approved by @x".
    The approver is re-checked here from the policy and live group membership.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, actor: str, approve: bool, note: str = "") -> Grant:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        now = deps.clock.now()
        check_approver(deps, grant, actor=actor, requester=grant.requester, what="request", now=now)
        if grant.status is not GrantStatus.PENDING:
            raise AlreadyDecided(grant.id, grant.status, grant.decided_by)
        if now >= grant.pending_until:
            raise RequestTimedOut(grant.id)
        if approve:
            decision = transitions.approve(
                grant, actor=actor, note=note, now=now, lease=deps.retry.lease
            )
        else:
            decision = transitions.deny(grant, actor=actor, note=note, now=now)
        decided = deps.store.apply(decision)
        if decided is None:
            latest = deps.grant_or_fail(grant.id)
            raise AlreadyDecided(grant.id, latest.status, latest.decided_by)
        if approve:
            return ActivateGrant(deps).execute(grant_id=grant.id, grant=decided)
        return decided
