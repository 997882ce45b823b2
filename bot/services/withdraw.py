"""The requester (or an approver) withdraws a request that is still pending."""

from __future__ import annotations

from bot.domain.grants import Grant, GrantStatus
from bot.domain.refusals import AlreadyDecided
from bot.services.deps import Deps
from bot.services.revoke import cancel_pending, check_may_end


class WithdrawRequest:
    """The cancel path of `RevokeGrant` alone: a Withdraw button seen before the request was
    approved never revokes the access it became (it answers "already approved by @x"), and
    of two clicks one withdraws and the other hears it was withdrawn (a conditional update).
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
        raise AlreadyDecided(grant.id, grant.status, grant.decided_by)
