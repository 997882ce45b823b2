"""Read-only answers: my requests and grants, the profiles I may request."""

from __future__ import annotations

from bot.domain.grants import Grant
from bot.domain.policy import Profile
from bot.services.deps import Deps


def my_grants(deps: Deps, user: str) -> list[Grant]:
    return deps.store.open_grants_of(user)


def awaiting_my_decision(deps: Deps, user: str, limit: int = 50) -> list[Grant]:
    """Pending requests this user may approve (not their own, unless self-approval; not
    those their vote is counted in already, waiting for another approver)."""
    approves = [
        p.name for p in deps.policy.profiles.values() if deps.is_member(user, p.all_approvers)
    ]
    if not approves:
        return []  # most users approve nothing: no query
    mine = []
    for grant in deps.store.pending_requests(limit=500):
        profile = deps.policy.profiles.get(grant.profile)
        if profile is None or profile.name not in approves:
            continue
        if user in grant.approvals:  # counted already: it waits for others
            continue
        if not deps.is_member(user, profile.approvers_for(grant.cluster)):
            continue
        if grant.requester != user or profile.self_approval:
            mine.append(grant)
    return mine[:limit]


def requestable_profiles(deps: Deps, user: str) -> list[Profile]:
    return [p for p in deps.policy.profiles.values() if deps.is_member(user, p.requesters)]
