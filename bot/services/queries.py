"""Read-only answers: my requests and grants, the profiles I may request."""

from __future__ import annotations

from bot.domain.grants import OPEN, Grant
from bot.domain.policy import Profile
from bot.services.deps import Deps


def my_grants(deps: Deps, user: str) -> list[Grant]:
    grants = deps.store.find_grants(statuses=OPEN, requester=user)
    return sorted(grants, key=lambda g: g.created_at)


def requestable_profiles(deps: Deps, user: str) -> list[Profile]:
    return [p for p in deps.policy.profiles.values() if deps.is_member(user, p.requesters)]
