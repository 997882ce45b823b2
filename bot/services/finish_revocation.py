"""Remove a grant from its cluster and close it."""

from __future__ import annotations

from bot.domain import transitions
from bot.domain.errors import EksAccessError
from bot.domain.grants import Grant, GrantStatus
from bot.services.deps import Deps
from bot.services.failures import schedule_retry


class FinishRevocation:
    """Drive a `revoking` grant to `ended`.

    The RoleBinding goes first: RBAC removal takes effect at once. The identity mapping (the
    bot's aws-auth entry or access entry) goes only when no other grant of the same principal on that cluster still needs it. Deleting what is
    already gone counts as success. Until both are done the grant stays `revoking` and the sweep
    retries with backoff: the database never says "revoked" while the cluster still grants.
    `again=True` re-runs the cluster cleanup of an ended grant (a late activation step).
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, grant_id: str, again: bool = False) -> Grant:
        deps = self.deps
        grant = deps.grant_or_fail(grant_id)
        if grant.status is not GrantStatus.REVOKING and not (
            again and grant.status is GrantStatus.ENDED
        ):
            return grant
        try:
            gateway = deps.clusters.get(grant.cluster)
            gateway.delete_rbac(grant.id, grant.namespace)
            if not self._mapping_still_needed(grant):
                gateway.remove_mapping(grant.identity.principal)
        except EksAccessError as e:
            if grant.status is GrantStatus.ENDED:
                return grant  # the reconcile pass removes what is left
            return schedule_retry(deps, grant, e, step="revoke", now=deps.clock.now())
        if grant.status is GrantStatus.ENDED:
            return grant
        ended = deps.store.apply(transitions.end(grant, now=deps.clock.now()))
        if ended is None:
            return deps.grant_or_fail(grant.id)
        deps.timers.cancel(grant.id)
        return ended

    def _mapping_still_needed(self, grant: Grant) -> bool:
        others = self.deps.store.access_holders(
            principal_arn=grant.principal_arn, cluster=grant.cluster
        )
        return any(g.id != grant.id for g in others)
