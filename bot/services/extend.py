"""The requester asks for more time on an active grant."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from bot.domain import transitions
from bot.domain.durations import format_duration
from bot.domain.errors import Conflict, EksAccessError, Rejected
from bot.domain.grants import AuditEvent, Extension, ExtensionStatus, Grant, GrantStatus
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import Profile
from bot.services.deps import Deps


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
            raise Rejected(f"Only <@{grant.requester}>, who holds `{grant.id}`, can extend it.")
        if grant.status is not GrantStatus.ACTIVE:
            raise Conflict(
                f"`{grant.id}` is {grant.status.label}; only active grants can be extended."
            )
        profile = deps.profile_of(grant)
        now = deps.clock.now()
        check_extension(grant, profile, duration, now)
        if profile.self_approval:
            return apply_extension(deps, grant, duration, actor=actor, now=now)
        if deps.store.pending_extension_of(grant.id) is not None:
            raise Conflict(f"An extension of `{grant.id}` is already waiting for approval.")
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
        )
        ref = deps.notifier.extension_requested(extension, grant)
        if ref is not None:
            noted = transitions.note_extension_message(extension, channel=ref.channel, ts=ref.ts)
            extension = deps.store.apply(noted) or extension
        return extension


def check_extension(grant: Grant, profile: Profile, duration: timedelta, now: datetime) -> None:
    """Within the profile's bounds, and the grant never ends later than its max_duration
    from now."""
    if not profile.min_duration <= duration <= profile.max_duration:
        raise Rejected(
            f"`{format_duration(duration)}` is outside what `{profile.name}` allows: between "
            f"{format_duration(profile.min_duration)} and {format_duration(profile.max_duration)}."
        )
    assert grant.expires_at is not None
    room = profile.max_duration - (grant.expires_at - now)
    if duration > room:
        raise Rejected(
            f"`{grant.id}` may not run longer than {format_duration(profile.max_duration)} "
            "from now; "
            f"you can extend it by at most {format_duration(max(room, timedelta(0)))}."
        )


def apply_extension(
    deps: Deps, grant: Grant, duration: timedelta, *, actor: str, now: datetime
) -> Grant:
    """Move the expiry; refresh the binding's annotation; reset the warning; re-arm the timer."""
    extended = deps.store.apply(transitions.extend(grant, by=duration, actor=actor, now=now))
    if extended is None:
        raise Conflict(f"`{grant.id}` ended before the extension could be applied.")
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
