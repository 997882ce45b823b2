"""The interfaces (ports) the services need. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.grants import (
    AuditEvent,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
)
from bot.domain.policy import ClusterConfig, Profile
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC. Read once per operation."""
        ...


@dataclass(frozen=True)
class OwnedClusterState:
    """What the bot owns in one cluster, read with one list call per namespace (plus aws-auth)."""

    bindings: dict[str, set[str]] = field(default_factory=dict)  # namespace -> grant ids
    #: Principal ARNs of the bot's own identity mappings (aws-auth entries or access entries).
    mapped_arns: set[str] = field(default_factory=set)


class ClusterGateway(Protocol):
    """One Kubernetes cluster. Every method is idempotent; raises TransientError/PermanentError."""

    def ensure_mapping(self, identity: Identity) -> str:
        """Map the identity's principal unless already mapped (aws-auth entry or access entry,
        whichever the cluster reads); return the Kubernetes username this person will have.

        An entry the bot did not create is never modified: the username it gives this person
        is returned instead (rendered for their session name).
        """
        ...

    def remove_mapping(self, principal: Principal) -> None:
        """Remove the bot's own mapping of `principal`, if there is one."""
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


class Clusters(Protocol):
    def get(self, name: str) -> ClusterGateway:
        """The gateway of a cluster named in the policy (connections are made lazily)."""
        ...


class GrantStore(Protocol):
    """Persistence of requests, grants, extensions and the audit trail.

    Every state change is a conditional update (`expect`): it applies only if the row is still
    in one of the expected states, so two clicks or two replicas can never both win.
    """

    def add_grant(self, grant: Grant, event: AuditEvent) -> None: ...

    def get_grant(self, grant_id: str) -> Grant | None: ...

    def update_grant(
        self,
        grant_id: str,
        *,
        expect: Collection[GrantStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Grant | None:
        """Apply `changes` if the status is in `expect`; return the new grant, or None."""
        ...

    def find_grants(
        self,
        *,
        statuses: Collection[GrantStatus],
        requester: str | None = None,
        principal_arn: str | None = None,
        cluster: str | None = None,
        expires_before: datetime | None = None,
        pending_before: datetime | None = None,
        attempt_due: datetime | None = None,
        limit: int | None = None,
    ) -> list[Grant]: ...

    def grant_refs(self, *, statuses: Collection[GrantStatus], cluster: str) -> list[GrantRef]:
        """A few columns of many grants (reconcile reads every live grant of a cluster)."""
        ...

    def find_warn_due(self, now: datetime, horizon: timedelta) -> list[Grant]:
        """Active, not yet warned, expiring within `horizon` (candidates; callers check each
        grant's own warn_before)."""
        ...

    def add_extension(self, extension: Extension, event: AuditEvent) -> None: ...

    def get_extension(self, extension_id: str) -> Extension | None: ...

    def update_extension(
        self,
        extension_id: str,
        *,
        expect: Collection[ExtensionStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Extension | None: ...

    def find_extensions(
        self,
        *,
        statuses: Collection[ExtensionStatus],
        grant_id: str | None = None,
        pending_before: datetime | None = None,
    ) -> list[Extension]: ...

    def record(self, event: AuditEvent) -> None:
        """Write an audit event on its own (refused clicks, notification failures)."""
        ...

    def audit_trail(self, grant_id: str) -> list[AuditEvent]: ...


@dataclass(frozen=True)
class MessageRef:
    channel: str
    ts: str


class Notifier(Protocol):
    """Tells people. Implementations retry on their own and never raise: a failed message must
    not block a revoke."""

    def approval_requested(self, grant: Grant, profile: Profile) -> MessageRef | None: ...

    def approval_updated(self, grant: Grant) -> None:
        """Replace the buttons of the approval message by the grant's current outcome."""
        ...

    def grant_active(self, grant: Grant, cluster: ClusterConfig) -> None: ...

    def grant_denied(self, grant: Grant) -> None: ...

    def grant_ended(self, grant: Grant) -> None: ...

    def grant_delayed(self, grant: Grant) -> None:
        """Approved, but the cluster is not answering yet: the bot keeps trying."""
        ...

    def request_timed_out(self, grant: Grant) -> None: ...

    def expiry_warning(self, grant: Grant, can_self_extend: bool) -> None: ...

    def extension_requested(self, extension: Extension, grant: Grant) -> MessageRef | None: ...

    def extension_decided(self, extension: Extension, grant: Grant) -> None: ...

    def alert(self, text: str) -> None:
        """Tell the approvers' (or alert) channel that something needs a human."""
        ...


class Directory(Protocol):
    def groups_of(self, user_id: str, candidates: tuple[str, ...]) -> frozenset[str]:
        """Which of the candidate Slack user groups the user belongs to (read live, cached
        briefly)."""
        ...

    def email_of(self, user_id: str) -> str | None:
        """The email address of the user's Slack profile; None when there is none or Slack
        cannot say (the caller refuses: it is someone's sign-in name)."""
        ...


class ExpiryTimers(Protocol):
    """Precise timers at expiry; the sweep catches anything they miss."""

    def schedule(self, grant_id: str, at: datetime) -> None: ...

    def cancel(self, grant_id: str) -> None: ...
