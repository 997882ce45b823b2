"""Database wins: make each cluster hold exactly what the database says the bot granted."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bot.domain.errors import EksAccessError
from bot.domain.grants import SYSTEM, AuditEvent, GrantRef, GrantStatus
from bot.domain.plan import rbac_for_grant
from bot.domain.ports import GrantStore
from bot.domain.principals import Principal
from bot.services.deps import Deps
from bot.services.log_context import note

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    reapplied: list[str] = field(default_factory=list)
    removed_bindings: list[str] = field(default_factory=list)
    removed_mappings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class ReconcileCluster:
    """Compare the bot's own objects in one cluster (one list per namespace, one read of its
    identity mappings)
    with the database: re-apply missing pieces of active grants, remove orphans and anything
    whose grant is over. Foreign objects are never listed, so never touched.

    The cluster is read *before* the database, so a grant activated in between is seen as
    active rather than as an orphan.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, cluster: str) -> ReconcileReport:
        deps, report = self.deps, ReconcileReport()
        note(cluster=cluster)
        gateway = deps.clusters.get(cluster)
        namespaces = {ns for p in deps.policy.profiles.values() for ns in p.namespaces}
        state = gateway.owned_state(namespaces)
        key = _Keys()  # many grants share a principal (a team's role): each ARN parsed once
        mapped = {key(arn) for arn in state.mapped_arns}
        live: set[str] = set()
        needed: set[str] = set()
        now = deps.clock.now()
        no_bindings: set[str] = set()
        for ref in _refs(deps.store, cluster):
            live.add(ref.id)
            needed.add(key(ref.principal_arn))
            profile = deps.policy.profiles.get(ref.profile)
            if ref.status is not GrantStatus.ACTIVE or profile is None or not ref.k8s_username:
                continue  # activation in progress: the sweep owns it
            missing_binding = ref.id not in state.bindings.get(ref.namespace, no_bindings)
            # Only a mapping the bot made itself is the bot's to put back.
            missing_mapping = (
                key(ref.principal_arn) not in mapped
                and ref.mapped_via is not None
                and ref.mapped_via.owned
            )
            if not (missing_binding or missing_mapping):
                continue
            identity = ref.identity
            try:
                if missing_mapping:
                    gateway.ensure_mapping(identity)
                    mapped.add(identity.principal.key)  # once per principal
                grant = deps.store.get_grant(ref.id) if missing_binding else None
                if grant is not None and grant.expires_at is not None and grant.k8s_username:
                    gateway.ensure_rbac(
                        rbac_for_grant(grant, profile, grant.k8s_username, grant.expires_at)
                    )
                report.reapplied.append(ref.id)
                deps.store.record(
                    AuditEvent(
                        now,
                        SYSTEM,
                        "reconcile.reapplied",
                        ref.id,
                        f"binding={missing_binding} mapping={missing_mapping}",
                    )
                )
            except EksAccessError as e:
                report.errors.append(f"{ref.id}: {e}")
        for namespace, grant_ids in state.bindings.items():
            for grant_id in grant_ids - live:
                self._remove(
                    report,
                    report.removed_bindings,
                    f"{namespace}/{grant_id}",
                    gateway.delete_rbac,
                    grant_id,
                    namespace,
                )
        orphans = [arn for arn in state.mapped_arns if key(arn) not in needed]
        if orphans:
            # Read once more: a grant of the same principal may have started activating since.
            still = {key(r.principal_arn) for r in _refs(deps.store, cluster)}
            for arn in orphans:
                if key(arn) not in still:
                    self._remove(
                        report,
                        report.removed_mappings,
                        arn,
                        gateway.remove_mapping,
                        Principal.parse(arn),
                    )
        return report

    def _remove(
        self,
        report: ReconcileReport,
        into: list[str],
        what: str,
        action: Callable[..., None],
        *args: object,
    ) -> None:
        try:
            action(*args)
            into.append(what)
            self.deps.store.record(
                AuditEvent(self.deps.clock.now(), SYSTEM, "reconcile.removed", None, what)
            )
        except EksAccessError as e:
            report.errors.append(f"{what}: {e}")


#: Grants read per query: a pass over 10,000 grants holds a page of them at a time, not all.
PAGE = 1000


def _refs(store: GrantStore, cluster: str) -> Iterator[GrantRef]:
    """Every grant holding access on `cluster`, a page at a time, by id.

    Not one snapshot, and it need not be: a binding or mapping the pass found in the cluster
    belongs to a grant that held access then and holds it until that object is deleted by its
    own revocation, so it is on some page; a grant that ends meanwhile is removed again.
    """
    after = ""
    while True:
        page = store.access_refs(cluster, after=after, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


class _Keys:
    """aws-auth holds role ARNs without their path, access entries with it: principals are
    compared by key, each ARN parsed once per pass."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, arn: str) -> str:
        found = self._known.get(arn)
        if found is None:
            found = self._known[arn] = Principal.parse(arn).key
        return found
