"""Who may decide: re-checked on the server at every click, whatever the button said."""

from __future__ import annotations

from datetime import datetime

from bot.domain.errors import Rejected
from bot.domain.grants import AuditEvent, Grant
from bot.domain.policy import Profile
from bot.domain.refusals import NotAnApprover, OwnDecision
from bot.services.deps import Deps


def check_approver(
    deps: Deps, grant: Grant, *, actor: str, requester: str, what: str, now: datetime
) -> Profile:
    """The grant's profile, if `actor` may decide on `what` (the request, or an extension
    `requester` asked for); otherwise the refusal, audited."""
    profile = deps.profile_of(grant)
    refusal: Rejected | None = None
    approvers = profile.approvers_for(grant.cluster)
    if not deps.is_member(actor, approvers):
        refusal = NotAnApprover(profile.name, approvers)
    elif actor == requester and not profile.self_approval:
        refusal = OwnDecision(profile.name, what)
    if refusal is not None:
        deps.store.record(AuditEvent(now, actor, "click.refused", grant.id, str(refusal)))
        raise refusal
    return profile
