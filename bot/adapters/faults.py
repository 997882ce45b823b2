"""Crash points for the fault-injection tests.

`EKS_ACCESS_CRASH_AT=after:ensure_rbac` makes the process kill itself (SIGKILL, no cleanup)
the first time it gets there: right before or after one external step, i.e. between the step
and the database write that records it. Unset in production, and then nothing is wrapped.
"""

from __future__ import annotations

import logging
import os
import signal

from bot.domain.grants import MappedIdentity
from bot.domain.ports import ClusterGateway, OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant

log = logging.getLogger(__name__)

POINTS = tuple(
    f"{when}:{step}"
    for step in ("ensure_mapping", "ensure_rbac", "delete_rbac", "remove_mapping")
    for when in ("before", "after")
)


class CrashingGateway:
    def __init__(self, inner: ClusterGateway, points: tuple[str, ...]) -> None:
        unknown = set(points) - set(POINTS)
        if unknown:
            raise ValueError(f"unknown crash point(s) {sorted(unknown)}; known: {POINTS}")
        self.inner = inner
        self.points = set(points)

    def _at(self, point: str) -> None:
        if point in self.points:
            log.warning("crash point %s reached: killing the process", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        self._at("before:ensure_mapping")
        mapped = self.inner.ensure_mapping(identity)
        self._at("after:ensure_mapping")
        return mapped

    def prepare_mapping(self, identity: Identity) -> None:
        self.inner.prepare_mapping(identity)

    def remove_mapping(self, principal: Principal) -> None:
        self._at("before:remove_mapping")
        self.inner.remove_mapping(principal)
        self._at("after:remove_mapping")

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        self._at("before:ensure_rbac")
        self.inner.ensure_rbac(rbac)
        self._at("after:ensure_rbac")

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        self._at("before:delete_rbac")
        self.inner.delete_rbac(grant_id, namespace)
        self._at("after:delete_rbac")

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        return self.inner.owned_state(namespaces)
