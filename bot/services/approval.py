"""Who may decide: re-checked on the server at every click, whatever the button said."""

from __future__ import annotations

from bot.domain.errors import Rejected
from bot.domain.grants import AuditEvent
from bot.domain.policy import Profile
from bot.services.deps import Deps


def check_approver(
    deps: Deps, *, profile: Profile, actor: str, requester: str, what: str, grant_id: str
) -> None:
    """Raise Rejected (and audit the refused attempt) unless `actor` may decide."""
    reason = None
    if not deps.is_member(actor, profile.approvers):
        who = ", ".join(f"<@{a}>" if a[0] in "UW" else f"<!subteam^{a}>" for a in profile.approvers)
        reason = f"You are not an approver of `{profile.name}`; its approvers are {who}."
    elif actor == requester and not profile.self_approval:
        reason = (
            f"You cannot approve or deny your own {what}; "
            f"another approver of `{profile.name}` must."
        )
    if reason:
        deps.store.record(AuditEvent(deps.clock.now(), actor, "click.refused", grant_id, reason))
        raise Rejected(reason)


_OUTCOME = {
    "activating": "approved",
    "active": "approved",
    "revoking": "approved",
    "ended": "approved",
    "timed_out": "closed: it timed out",
    "cancelled": "withdrawn by the requester",
}


def decided_text(status: str, by: str | None) -> str:
    """ "already approved by <@U…>" for every state an approval leads to."""
    outcome = _OUTCOME.get(str(status), str(status).replace("_", " "))
    if outcome.startswith("closed") or outcome.startswith("withdrawn"):
        return f"already {outcome}"
    return f"already {outcome}" + (f" by <@{by}>" if by else "")
