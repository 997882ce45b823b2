"""An engineer breaks the glass: access at once, without approval, told to everyone who
would have approved it."""

from __future__ import annotations

import logging

from bot.domain.break_glass import break_glass
from bot.domain.break_glass_refusals import (
    AlreadyHeld,
    BreakGlassNotAllowed,
    BreakGlassTooLong,
    BreakGlassTooShort,
)
from bot.domain.commands import BreakGlassCommand, GrantCommand, check_break_glass_reason
from bot.domain.grants import HOLDS_ACCESS, Grant
from bot.domain.policy import Profile
from bot.services.activate import ActivateGrant
from bot.services.deps import Deps
from bot.services.log_context import note
from bot.services.request_access import check_request

log = logging.getLogger(__name__)


class BreakGlass:
    """Checks a break-glass access against the policy, stores it already decided, applies it.

    Nothing is stored unless every check passes (the reason, the profile's `break_glass` and
    its cap, then every check of an ordinary request). The grant is written `activating` with
    both audit events and its announcement owed in one transaction, so the approvers hear of
    it even if the bot dies before the cluster is reached; the sweep then finishes the
    activation once its lease has run out.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, requester: str, command: BreakGlassCommand) -> Grant:
        deps = self.deps
        check_break_glass_reason(command.reason)
        profile = self._profile(requester, command.profile)
        if command.duration > profile.break_glass_max_duration:
            raise BreakGlassTooLong(
                command.duration, profile.name, profile.break_glass_max_duration
            )
        if command.duration < profile.min_duration:
            raise BreakGlassTooShort(command.duration, profile.name, profile.min_duration)
        as_request = GrantCommand(
            profile.name, command.duration, command.namespace, command.cluster, command.reason
        )
        checked = check_request(
            deps.policy, requester, as_request, deps.is_member, deps.directory.email_of
        )
        cluster, namespace = checked.cluster.name, checked.namespace
        for other in deps.store.open_grants_of(requester):
            # A pending request of the same access may wait for approval beside this one.
            if other.status in HOLDS_ACCESS and (other.cluster, other.profile, other.namespace) == (
                cluster,
                profile.name,
                namespace,
            ):
                raise AlreadyHeld(other.id, profile.name, namespace)
        now = deps.clock.now()
        request = checked.new_request(
            deps.new_id(), requester, as_request, now=now, pending_until=now
        )
        record = break_glass(request, now=now, lease=deps.retry.lease)
        note(grant_id=request.id, cluster=cluster)
        deps.store.add_grant(record.grant, record.created, record.notices, also=(record.broken,))
        log.warning("break-glass %s by %s on %s/%s", request.id, requester, cluster, namespace)
        return ActivateGrant(deps).execute(grant_id=request.id, grant=record.grant)

    def _profile(self, requester: str, name: str) -> Profile:
        """The profile, if this requester may break glass on it."""
        deps = self.deps
        profile = deps.policy.profiles.get(name)
        requestable = profile is not None and deps.is_member(requester, profile.requesters)
        if profile is None or not requestable or not profile.break_glass:
            allowed = tuple(
                p.name
                for p in deps.policy.profiles.values()
                if p.break_glass and deps.is_member(requester, p.requesters)
            )
            raise BreakGlassNotAllowed(name, profile is not None, requestable, allowed)
        return profile
