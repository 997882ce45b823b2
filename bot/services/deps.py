"""What every use case needs, bundled once in main and passed in."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from bot.domain.grants import Grant
from bot.domain.ids import new_id
from bot.domain.policy import Policy, Profile, group_ids, names_member
from bot.domain.ports import Clock, Clusters, Directory, ExpiryTimers, GrantStore
from bot.domain.refusals import NoSuchRequest, ProfileGone
from bot.domain.retry import Retry
from bot.services.log_context import note


@dataclass(frozen=True)
class Deps:
    policy: Policy
    store: GrantStore
    clusters: Clusters
    directory: Directory
    clock: Clock
    timers: ExpiryTimers
    new_id: Callable[[], str] = new_id
    retry: Retry = field(default_factory=Retry)
    #: Runs a cluster step beside another (an activation's RoleBinding while its identity is
    #: mapped); None runs them one after the other.
    beside: Executor | None = None

    def is_member(self, user_id: str, members: tuple[str, ...]) -> bool:
        groups = group_ids(members)
        found = self.directory.groups_of(user_id, groups) if groups else frozenset()
        return names_member(members, user_id, found)

    def profile_of(self, grant: Grant) -> Profile:
        profile = self.policy.profiles.get(grant.profile)
        if profile is None:
            raise ProfileGone(grant.profile)
        return profile

    def grant_or_fail(self, grant_id: str) -> Grant:
        grant = self.store.get_grant(grant_id)
        if grant is None:
            raise NoSuchRequest(grant_id)
        note(grant_id=grant.id, cluster=grant.cluster)  # the lines of this work name it
        return grant
