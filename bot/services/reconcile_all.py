"""Reconcile every cluster of the policy, one after the other (the scheduler's periodic job)."""

from __future__ import annotations

import logging

from bot.domain.errors import EksAccessError
from bot.services.deps import Deps
from bot.services.reconcile import ReconcileCluster, ReconcileReport

log = logging.getLogger(__name__)


class ReconcileAll:
    """A cluster that cannot be reached is skipped with a warning, so it never holds up the
    others; the next pass tries it again. Grants on it are still revoked by the sweep, which
    retries each one on its own."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self) -> dict[str, ReconcileReport | str]:
        """Per cluster: its report, or why it was skipped."""
        results: dict[str, ReconcileReport | str] = {}
        for cluster in self.deps.policy.clusters:
            try:
                results[cluster.name] = ReconcileCluster(self.deps).execute(cluster=cluster.name)
            except EksAccessError as e:
                log.warning("reconcile of %s skipped: %s", cluster.name, e)
                results[cluster.name] = str(e)
        return results
