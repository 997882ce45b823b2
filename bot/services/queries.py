"""Read-only answers: my requests and grants, the profiles I may request."""

from __future__ import annotations

from bot.domain.grants import OPEN, Grant, GrantStatus
from bot.domain.policy import Profile
from bot.services.deps import Deps


def my_grants(deps: Deps, user: str) -> list[Grant]:
    grants = deps.store.find_grants(statuses=OPEN, requester=user)
    return sorted(grants, key=lambda g: g.created_at)


def awaiting_my_decision(deps: Deps, user: str, limit: int = 50) -> list[Grant]:
    """Pending requests this user may approve (not their own, unless self-approval)."""
    approves = [p.name for p in deps.policy.profiles.values() if deps.is_member(user, p.approvers)]
    if not approves:
        return []  # most users approve nothing: no query
    pending = deps.store.find_grants(statuses={GrantStatus.PENDING}, limit=500)
    mine = []
    for grant in sorted(pending, key=lambda g: g.created_at):
        profile = deps.policy.profiles.get(grant.profile)
        if profile is None or profile.name not in approves:
            continue
        if grant.requester != user or profile.self_approval:
            mine.append(grant)
    return mine[:limit]


def requestable_profiles(deps: Deps, user: str) -> list[Profile]:
    return [p for p in deps.policy.profiles.values() if deps.is_member(user, p.requesters)]
