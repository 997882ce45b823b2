"""An approver clicks Approve or Deny on a pending request."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain import transitions
from bot.domain.errors import TransientError
from bot.domain.grants import Grant, GrantStatus
from bot.domain.policy import Profile
from bot.domain.refusals import AlreadyDecided, ApprovalAlreadyCounted, RequestTimedOut
from bot.services.activate import ActivateGrant
from bot.services.approval import check_approver
from bot.services.deps import Deps

#: Votes lost to other votes landing at the same moment before this one gives up (each loss
#: means another vote was counted, so a quorum of at most 10 is reached long before this).
MAX_VOTE_ATTEMPTS = 25

log = logging.getLogger(__name__)


class DecideRequest:
    """Approve or deny a pending request, exactly once.

    The decision is a conditional update `pending -> activating|denied`: of two clicks, two
    replicas or a Slack retry, exactly one wins; the others get "already approved by @x".
    With a quorum (`approvals: N`), a vote short of it keeps the request pending and is
    counted against the votes as read: of two concurrent votes one wins, the other re-reads
    and is counted on top (or completes the quorum). The same person counts once. The
    approver is re-checked here from the policy and live group membership.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, actor: str, approve: bool, note: str = "") -> Grant:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        now = deps.clock.now()
        profile = check_approver(
            deps, grant, actor=actor, requester=grant.requester, what="request", now=now
        )
        for _ in range(MAX_VOTE_ATTEMPTS):
            _check_open(grant, actor, profile, approve, now)
            decision = self._decision(grant, profile, actor, approve, note, now)
            if decision.changes.get("status") is GrantStatus.ACTIVATING:
                _prepare(deps, grant)
            decided = deps.store.apply(decision)
            if decided is not None:
                if decided.status is GrantStatus.ACTIVATING:
                    return ActivateGrant(deps).execute(grant_id=grant.id, grant=decided)
                return decided
            grant = deps.grant_or_fail(grant.id)  # another vote or decision won: recount
        raise TransientError("Many approvals landed at once and yours was not counted.")

    def _decision(
        self, grant: Grant, profile: Profile, actor: str, approve: bool, note: str, now: datetime
    ) -> transitions.GrantTransition:
        needed = profile.approvals
        if not approve:
            return transitions.deny(grant, actor=actor, note=note, now=now)
        if len(grant.approvals) + 1 < needed:
            return transitions.count_approval(grant, actor=actor, needed=needed, now=now)
        return transitions.approve(
            grant, actor=actor, note=note, now=now, lease=self.deps.retry.lease, needed=needed
        )


def _prepare(deps: Deps, grant: Grant) -> None:
    """Let the cluster start reading what the activation will need while the decision is
    written (a read only: nothing is applied before the decision is)."""
    try:
        deps.clusters.get(grant.cluster).prepare_mapping(grant.identity)
    except Exception:  # a hint: the activation itself reports what is wrong
        log.debug("could not prepare the mapping of %s", grant.id, exc_info=True)


def _check_open(grant: Grant, actor: str, profile: Profile, approve: bool, now: datetime) -> None:
    if grant.status is not GrantStatus.PENDING:
        raise AlreadyDecided(grant.id, grant.status, grant.decided_by)
    if now >= grant.pending_until:
        raise RequestTimedOut(grant.id)
    if approve and actor in grant.approvals:
        raise ApprovalAlreadyCounted(grant.id, len(grant.approvals), profile.approvals)
