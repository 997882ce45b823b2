"""Apply an approved grant to its cluster: the identity mapping (aws-auth entry or access
entry) and the Role/RoleBinding, side by side in the bot."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import wait
from datetime import datetime

from bot.domain import transitions
from bot.domain.errors import EksAccessError, PermanentError, TransientError
from bot.domain.grants import EndReason, Grant, GrantStatus, MappedIdentity
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import Profile
from bot.domain.ports import ClusterGateway
from bot.domain.principals import UnrenderableUsername
from bot.services.deps import Deps
from bot.services.failures import schedule_retry
from bot.services.finish_revocation import FinishRevocation

log = logging.getLogger(__name__)


class ActivateGrant:
    """Drive an `activating` grant to `active`.

    Each step is idempotent and the grant stays `activating` until both are done, so running
    this again after a crash (the sweep does) converges. A permanent failure never leaves half a grant: the grant
    goes to `revoking` and everything already applied is removed.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, grant: Grant | None = None) -> Grant:
        """`grant`: the row as just written by the caller, saving a read on the click path."""
        deps = self.deps
        if grant is None or grant.id != grant_id:
            grant = deps.grant_or_fail(grant_id)
        if grant.status is not GrantStatus.ACTIVATING:
            return grant
        now = deps.clock.now()
        assert grant.expires_at is not None
        if grant.expires_at <= now:
            return self._abandon(
                grant, EndReason.EXPIRED, "expired before it could be applied", now
            )
        try:
            profile = deps.profile_of(grant)
            gateway = deps.clusters.get(grant.cluster)
            # Both steps are recorded together when the grant turns active. Until then it is
            # `activating`, and a re-run (after a crash, by the sweep) repeats them: each is
            # idempotent, and the mapping yields the same username again.
            mapped = self._map_and_bind(gateway, grant, profile)
        except TransientError as e:
            return schedule_retry(deps, grant, e, step="activate", now=now)
        except (PermanentError, EksAccessError) as e:
            return self._abandon(grant, EndReason.FAILED, str(e), now)
        active = deps.store.apply(transitions.activated(grant, mapped=mapped, now=now))
        if active is None:
            return self._lost_race(grant.id)
        deps.timers.schedule(active.id, grant.expires_at)
        return active

    def _map_and_bind(
        self, gateway: ClusterGateway, grant: Grant, profile: Profile
    ) -> MappedIdentity:
        """The identity mapping and the grant's RBAC; with `deps.beside`, at the same time.

        The binding names the username the mapping gives the bot's own entries; when someone
        else maps the principal already (`MappedVia.EXISTING`), it is bound again, to theirs.
        A binding made first is harmless: its username is nobody's until it is mapped. Both
        are idempotent, and until both are done the grant is `activating`: a failure of
        either is retried, or undone as a whole (`_abandon`).
        """
        assert grant.expires_at is not None
        expires_at = grant.expires_at

        def bind(username: str) -> None:
            gateway.ensure_rbac(rbac_for_grant(grant, profile, username, expires_at))

        beside = self.deps.beside
        guessed = _owned_username(grant)
        if beside is None or guessed is None:
            mapped = gateway.ensure_mapping(grant.identity)
            bind(mapped.username)
            return mapped
        binding = beside.submit(contextvars.copy_context().run, bind, guessed)
        try:
            mapped = gateway.ensure_mapping(grant.identity)
        finally:
            wait([binding])  # done either way before anything else (a cleanup must see it)
        binding.result()  # its failure, if the mapping succeeded
        if mapped.username != guessed:
            bind(mapped.username)
        return mapped

    def _abandon(self, grant: Grant, reason: EndReason, detail: str, now: datetime) -> Grant:
        deps = self.deps
        failing = deps.store.apply(
            transitions.abandon(
                grant, reason=reason, detail=detail, now=now, lease=deps.retry.lease
            )
        )
        if failing is None:
            return self._lost_race(grant.id)
        if reason is EndReason.FAILED:
            log.warning("grant %s could not be applied: %s", grant.id, detail)
        return FinishRevocation(deps).execute(grant_id=grant.id)

    def _lost_race(self, grant_id: str) -> Grant:
        """Someone revoked the grant while we were applying it: make sure nothing we applied
        after their cleanup stays behind."""
        latest = self.deps.grant_or_fail(grant_id)
        if latest.status in (GrantStatus.REVOKING, GrantStatus.ENDED):
            return FinishRevocation(self.deps).execute(grant_id=grant_id, again=True)
        return latest


def _owned_username(grant: Grant) -> str | None:
    """The username the bot's own mapping gives the requester, if it can tell before mapping
    (an entry someone else wrote may still map a principal whose own username it cannot)."""
    try:
        return grant.identity.owned_username
    except UnrenderableUsername:
        return None
