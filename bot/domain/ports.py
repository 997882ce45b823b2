"""The interfaces (ports) the services need. Adapters implement them; tests fake them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, overload

from bot.domain.grants import AuditEvent, Extension, Grant, GrantRef, MappedIdentity
from bot.domain.notices import Notice
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant
from bot.domain.transition_values import ExtensionTransition, GrantTransition


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC. Read once per operation."""
        ...


@dataclass(frozen=True)
class OwnedClusterState:
    """What the bot owns in one cluster, read with one list call per namespace (plus the
    identity mappings)."""

    bindings: dict[str, set[str]] = field(default_factory=dict)  # namespace -> grant ids
    #: Principal ARNs of the bot's own identity mappings (aws-auth entries or access entries).
    mapped_arns: set[str] = field(default_factory=set)


class ClusterGateway(Protocol):
    """One Kubernetes cluster. Every method is idempotent; raises TransientError/PermanentError."""

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        """Map the identity's principal unless already mapped (aws-auth entry or access entry,
        whichever the cluster reads); return the Kubernetes username this person will have,
        and which mapping gives it.

        An entry the bot did not create is never modified: the username it gives this person
        is returned instead (rendered for their session name).
        """
        ...

    def remove_mapping(self, principal: Principal) -> None:
        """Remove the bot's own mapping of `principal`, if there is one."""
        ...

    def prepare_mapping(self, identity: Identity) -> None:
        """A hint that `ensure_mapping(identity)` follows shortly (an approval is being
        written meanwhile): the gateway may start reading what that needs, and a combined
        write starting meanwhile may wait briefly to take that mapping along. Changes
        nothing, returns at once and never raises."""
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

    Every state change is a transition (`bot.domain.transitions`) applied by `apply`: a
    conditional update that takes effect only if the record is still in one of the expected
    states, with its audit event in the same transaction, so two clicks or two replicas can
    never both win. Reads are named for the decision they serve.
    """

    def add_grant(
        self,
        grant: Grant,
        event: AuditEvent,
        notices: tuple[Notice, ...] = (),
        *,
        also: tuple[AuditEvent, ...] = (),
    ) -> None:
        """A new request (or a grant applied at once: auto-approved, break-glass), with its
        audit event, any `also` recorded after it, and the messages it owes."""
        ...

    def get_grant(self, grant_id: str) -> Grant | None: ...

    @overload
    def apply(self, transition: GrantTransition) -> Grant | None: ...

    @overload
    def apply(self, transition: ExtensionTransition) -> Extension | None: ...

    def apply(self, transition: GrantTransition | ExtensionTransition) -> Grant | Extension | None:
        """The record after the transition, or None when it was in none of the expected
        states (someone else's transition won)."""
        ...

    def open_grants_of(self, requester: str) -> list[Grant]:
        """The requester's requests and grants that have not ended, oldest first."""
        ...

    def recent_grants_of(self, requester: str, *, limit: int) -> list[Grant]:
        """The requester's requests and grants that have ended (denied, withdrawn, timed out,
        expired, revoked, failed), the latest first."""
        ...

    def pending_requests(self, *, limit: int) -> list[Grant]:
        """Requests waiting for a decision, oldest first."""
        ...

    def access_holders(self, *, principal_arn: str, cluster: str) -> list[Grant]:
        """Grants of one principal on one cluster that hold (or are getting) its mapping."""
        ...

    def due_for_expiry(self, now: datetime) -> list[Grant]:
        """Activating or active grants whose expiry has come."""
        ...

    def activations_due(self, now: datetime) -> list[Grant]:
        """Activating grants whose lease or backoff is over."""
        ...

    def revocations_due(self, now: datetime) -> list[Grant]:
        """Revoking grants whose lease or backoff is over."""
        ...

    def requests_past_deadline(self, now: datetime) -> list[Grant]:
        """Pending requests nobody decided in time."""
        ...

    def reminders_due(self, now: datetime, every: timedelta) -> list[Grant]:
        """Pending requests with an approval message, not timed out, created (or last
        reminded) at least `every` ago (candidates; callers check each profile's own
        remind_after)."""
        ...

    def active_expiring_by(self, at: datetime) -> list[Grant]:
        """Active grants that expire by `at` (the precise timers to arm)."""
        ...

    def due_for_warning(self, now: datetime, horizon: timedelta) -> list[Grant]:
        """Active, not yet warned, expiring within `horizon` (candidates; callers check each
        grant's own warn_before)."""
        ...

    def grants_since(self, at: datetime) -> list[Grant]:
        """Every request and grant that was open at some time since `at` — created since, ended
        since, or not ended yet (an access requested before `at` may still be held) — oldest
        first. The audit export reads it."""
        ...

    def access_refs(self, cluster: str, *, after: str = "", limit: int = 0) -> list[GrantRef]:
        """A few columns of the grants holding access on a cluster, by id: those after id
        `after`, at most `limit` of them (0: all). Reconcile reads them a page at a time."""
        ...

    def add_extension(
        self, extension: Extension, event: AuditEvent, notices: tuple[Notice, ...] = ()
    ) -> None: ...

    def get_extension(self, extension_id: str) -> Extension | None: ...

    def pending_extension_of(self, grant_id: str) -> Extension | None: ...

    def extensions_past_deadline(self, now: datetime) -> list[Extension]:
        """Pending extensions nobody decided in time."""
        ...

    def record(self, event: AuditEvent) -> None:
        """Write an audit event on its own (refused clicks, reconcile repairs)."""
        ...

    def audit_trail(self, grant_id: str) -> list[AuditEvent]: ...


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
