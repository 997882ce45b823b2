"""The interfaces (ports) the services need. Adapters implement them; tests fake them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.domain.principals import Principal
from bot.domain.rbac import RbacGrant


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC. Read once per operation."""
        ...


@dataclass(frozen=True)
class OwnedClusterState:
    """What the bot owns in one cluster, read with one list call per namespace (plus aws-auth)."""

    bindings: dict[str, set[str]] = field(default_factory=dict)  # namespace -> grant ids
    mapped_arns: set[str] = field(default_factory=set)  # mapping ARNs of the bot's own aws-auth entries


class ClusterGateway(Protocol):
    """One Kubernetes cluster. Every method is idempotent; raises TransientError/PermanentError."""

    def ensure_mapping(self, principal: Principal) -> str:
        """Map `principal` in aws-auth unless already mapped; return the username it gets.

        An entry the bot did not create is never modified: its username is returned instead.
        """
        ...

    def remove_mapping(self, principal: Principal) -> None:
        """Remove the bot's own aws-auth entry for `principal`, if there is one."""
        ...

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        """Create or update the grant's Role (if any) and RoleBinding."""
        ...

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        """Delete the grant's RoleBinding; already gone counts as success."""
        ...

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        """List what the bot owns (by label), for reconcile."""
        ...
