"""An approver acknowledges a break-glass access: they have seen it, and it is on record."""

from __future__ import annotations

from bot.domain.break_glass import acknowledge
from bot.domain.break_glass_refusals import AlreadyAcknowledged, NotBreakGlass, OwnBreakGlass
from bot.domain.errors import Rejected
from bot.domain.grants import AuditEvent, Grant
from bot.domain.refusals import NotAnApprover
from bot.services.deps import Deps


class AcknowledgeBreakGlass:
    """Record who acknowledged a break-glass grant, exactly once.

    The approver is re-checked here from the policy (the approvers of the grant's cluster)
    and live group membership, whatever the button said; a refused click is audited. The
    acknowledgement is a conditional update on "nobody acknowledged yet": of two clicks (or
    two approvers), one wins and the other hears who did.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, actor: str) -> Grant:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        now = deps.clock.now()
        if not grant.break_glass:
            raise NotBreakGlass(grant.id)
        profile = deps.profile_of(grant)
        approvers = profile.approvers_for(grant.cluster)
        refusal: Rejected | None = None
        if not deps.is_member(actor, approvers):
            refusal = NotAnApprover(profile.name, approvers)
        elif actor == grant.requester and not profile.self_approval:
            refusal = OwnBreakGlass(profile.name)
        if refusal is not None:
            deps.store.record(AuditEvent(now, actor, "click.refused", grant.id, str(refusal)))
            raise refusal
        if grant.acknowledged_by is not None:
            raise AlreadyAcknowledged(grant.id, grant.acknowledged_by)
        acknowledged = deps.store.apply(acknowledge(grant, actor=actor, now=now))
        if acknowledged is None:
            latest = deps.grant_or_fail(grant.id)
            raise AlreadyAcknowledged(grant.id, latest.acknowledged_by)
        return acknowledged
