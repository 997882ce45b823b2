"""The requester asks for more time on an active grant."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from bot.domain import extension_transitions
from bot.domain.durations import format_duration
from bot.domain.errors import EksAccessError
from bot.domain.grant_refusals import (
    EndedBeforeExtension,
    ExtensionPending,
    ExtensionTooLong,
    NotExtendable,
    NotTheHolder,
)
from bot.domain.grants import AuditEvent, Extension, ExtensionStatus, Grant, GrantStatus
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import Profile
from bot.services.deps import Deps
from bot.services.request_access import check_duration


class RequestExtension:
    """Extensions go through the same approval as the grant, unless the profile allows
    self-approval: then they apply at once. The grant may never end later than the profile's
    max_duration from now."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, actor: str, duration: timedelta) -> Grant | Extension:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        if actor != grant.requester:
            raise NotTheHolder(grant.id, grant.requester)
        if grant.status is not GrantStatus.ACTIVE:
            raise NotExtendable(grant.id, grant.status.label)
        profile = deps.profile_of(grant)
        now = deps.clock.now()
        check_extension(grant, profile, duration, now)
        if profile.self_approval:
            return apply_extension(deps, grant, duration, actor=actor, now=now)
        if deps.store.pending_extension_of(grant.id) is not None:
            raise ExtensionPending(grant.id)
        extension = Extension(
            id=deps.new_id(),
            grant_id=grant.id,
            requested_by=actor,
            duration=duration,
            status=ExtensionStatus.PENDING,
            created_at=now,
            pending_until=min(now + profile.pending_timeout, grant.expires_at or now),
        )
        deps.store.add_extension(
            extension,
            AuditEvent(
                now,
                actor,
                "extension.requested",
                grant.id,
                f"{extension.id} +{format_duration(duration)}",
            ),
            extension_transitions.extension_requested(extension),
        )
        return extension


def check_extension(grant: Grant, profile: Profile, duration: timedelta, now: datetime) -> None:
    """Within the profile's bounds, and the grant never ends later than its max_duration
    from now."""
    check_duration(profile, duration)
    assert grant.expires_at is not None
    room = profile.max_duration - (grant.expires_at - now)
    if duration > room:
        raise ExtensionTooLong(grant.id, profile.max_duration, room)


def apply_extension(
    deps: Deps, grant: Grant, duration: timedelta, *, actor: str, now: datetime
) -> Grant:
    """Move the expiry; refresh the binding's annotation; reset the warning; re-arm the timer."""
    extended = deps.store.apply(
        extension_transitions.extend(grant, by=duration, actor=actor, now=now)
    )
    if extended is None:
        raise EndedBeforeExtension(grant.id)
    assert extended.expires_at is not None
    new_expiry = extended.expires_at
    deps.timers.schedule(extended.id, new_expiry)
    profile = deps.policy.profiles.get(grant.profile)
    if profile is not None and extended.k8s_username:
        # The annotation is informative (the database holds the expiry); reconcile refreshes it.
        with contextlib.suppress(EksAccessError):
            deps.clusters.get(grant.cluster).ensure_rbac(
                rbac_for_grant(extended, profile, extended.k8s_username, new_expiry)
            )
    return extended
