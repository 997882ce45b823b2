"""The requester or an approver ends a grant now (or withdraws a pending request)."""

from __future__ import annotations

from datetime import datetime

from bot.domain import transitions
from bot.domain.grant_refusals import AlreadyOver, NotAllowedToRevoke
from bot.domain.grants import AuditEvent, Grant, GrantStatus
from bot.services.deps import Deps
from bot.services.finish_revocation import FinishRevocation


class RevokeGrant:
    """`/eks-access revoke <id>`: cancel if pending, otherwise revoke.

    The state goes to `revoking` first (a conditional update, so a revoke racing the expiry
    or a second revoke wins once), then the cluster cleanup runs.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, actor: str) -> Grant:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        now = deps.clock.now()
        check_may_end(deps, grant, actor=actor, now=now)
        if grant.status is GrantStatus.PENDING:
            cancelled, grant = cancel_pending(deps, grant, actor=actor, now=now)
            if cancelled:
                return grant
        if grant.status not in (GrantStatus.ACTIVATING, GrantStatus.ACTIVE):
            if grant.status is GrantStatus.REVOKING:
                return FinishRevocation(deps).execute(grant_id=grant.id)
            raise AlreadyOver(grant.id, grant.status.label)
        revoking = deps.store.apply(
            transitions.revoke(grant, actor=actor, now=now, lease=deps.retry.lease)
        )
        if revoking is None:
            latest = deps.grant_or_fail(grant.id)
            raise AlreadyOver(grant.id, latest.status.label)
        return FinishRevocation(deps).execute(grant_id=grant.id)


def cancel_pending(deps: Deps, grant: Grant, *, actor: str, now: datetime) -> tuple[bool, Grant]:
    """Withdraw a pending request (a conditional update): (True, the request withdrawn), or
    (False, the grant as a decision that came first left it)."""
    cancelled = deps.store.apply(transitions.cancel(grant, actor=actor, now=now))
    if cancelled is not None:
        return True, cancelled
    return False, deps.grant_or_fail(grant.id)


def check_may_end(deps: Deps, grant: Grant, *, actor: str, now: datetime) -> None:
    """Only the requester or an approver (for the grant's cluster, read live) ends a grant or
    withdraws a request; a refusal is audited."""
    profile = deps.policy.profiles.get(grant.profile)
    is_approver = profile is not None and deps.is_member(
        actor, profile.approvers_for(grant.cluster)
    )
    if actor != grant.requester and not is_approver:
        deps.store.record(AuditEvent(now, actor, "revoke.refused", grant.id))
        raise NotAllowedToRevoke(grant.id, grant.profile)
