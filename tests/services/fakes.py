"""In-memory fakes of the core's own ports (never of a library)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, overload

from bot.domain.errors import TransientError
from bot.domain.grants import (
    HOLDS_ACCESS,
    OPEN,
    AuditEvent,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
    MappedIdentity,
    MappedVia,
)
from bot.domain.notices import Notice, NoticeKind, OwedNotice, home_refresh
from bot.domain.policy import ClusterConfig, Profile
from bot.domain.ports import OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant
from bot.domain.retry import Retry
from bot.domain.transition_values import ExtensionTransition, GrantTransition
from bot.policy_file import parse_policy
from bot.services.deps import Deps
from tests.support.clock import FakeClock


class FakeStore:
    """The GrantStore contract in memory (tests/adapters/storage/test_store_contract.py runs
    the same checks against this and the SQL store)."""

    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.extensions: dict[str, Extension] = {}
        self.events: list[AuditEvent] = []
        #: Every notice owed, in order, and which of them were delivered (by `delivered`).
        self.notices: list[Notice] = []
        self.delivered_ids: set[int] = set()
        self.lock = threading.Lock()

    def add_grant(
        self,
        grant: Grant,
        event: AuditEvent,
        notices: tuple[Notice, ...] = (),
        *,
        also: tuple[AuditEvent, ...] = (),
    ) -> None:
        with self.lock:
            self.grants[grant.id] = grant
            self.events.extend((event, *also))
            self.notices.extend((*notices, home_refresh(grant.id, grant.requester)))

    def get_grant(self, grant_id: str) -> Grant | None:
        return self.grants.get(grant_id)

    def grant(self, grant_id: str) -> Grant:
        """The grant a test knows exists."""
        return self.grants[grant_id]

    @overload
    def apply(self, transition: GrantTransition) -> Grant | None: ...

    @overload
    def apply(self, transition: ExtensionTransition) -> Extension | None: ...

    def apply(self, transition: GrantTransition | ExtensionTransition) -> Grant | Extension | None:
        refresh = isinstance(transition, GrantTransition) and transition.refreshes_home
        if transition.event is None and (transition.notices or refresh):
            raise ValueError("a transition that owes messages must carry its audit event")
        with self.lock:
            if isinstance(transition, GrantTransition):
                grant = self.grants.get(transition.grant_id)
                after: Grant | Extension | None = grant and transition.applied_to(grant)
                if isinstance(after, Grant):
                    self.grants[after.id] = after
            else:
                extension = self.extensions.get(transition.extension_id)
                after = extension and transition.applied_to(extension)
                if isinstance(after, Extension):
                    self.extensions[after.id] = after
            if after is not None and transition.event is not None:
                self.events.append(transition.event)
            if isinstance(transition, GrantTransition) and isinstance(after, Grant):
                self.notices.extend(transition.owed(after))
            elif after is not None:
                self.notices.extend(transition.notices)
            return after

    def _grants(self, *statuses: GrantStatus, when: Callable[[Grant], bool]) -> list[Grant]:
        found = [g for g in list(self.grants.values()) if g.status in statuses and when(g)]
        return sorted(found, key=lambda g: (g.expires_at or g.created_at, g.created_at))

    def open_grants_of(self, requester: str) -> list[Grant]:
        found = self._grants(*OPEN, when=lambda g: g.requester == requester)
        return sorted(found, key=lambda g: g.created_at)

    def recent_grants_of(self, requester: str, *, limit: int) -> list[Grant]:
        ended = [g for g in list(self.grants.values()) if g.status not in OPEN]
        mine = [g for g in ended if g.requester == requester]
        mine.sort(key=lambda g: (g.ended_at or g.created_at, g.id), reverse=True)
        return mine[:limit]

    def pending_requests(self, *, limit: int) -> list[Grant]:
        return self._grants(GrantStatus.PENDING, when=lambda g: True)[:limit]

    def access_holders(self, *, principal_arn: str, cluster: str) -> list[Grant]:
        return self._grants(
            *HOLDS_ACCESS, when=lambda g: (g.principal_arn, g.cluster) == (principal_arn, cluster)
        )

    def due_for_expiry(self, now: datetime) -> list[Grant]:
        return self._grants(*HOLDS_ACCESS, when=lambda g: _by(g.expires_at, now))

    def activations_due(self, now: datetime) -> list[Grant]:
        return self._grants(GrantStatus.ACTIVATING, when=lambda g: _due(g, now))

    def revocations_due(self, now: datetime) -> list[Grant]:
        return self._grants(GrantStatus.REVOKING, when=lambda g: _due(g, now))

    def requests_past_deadline(self, now: datetime) -> list[Grant]:
        return self._grants(GrantStatus.PENDING, when=lambda g: g.pending_until <= now)

    def reminders_due(self, now: datetime, every: timedelta) -> list[Grant]:
        return self._grants(
            GrantStatus.PENDING,
            when=lambda g: (
                g.approval_ts is not None
                and g.pending_until > now
                and (g.reminded_at or g.created_at) <= now - every
            ),
        )

    def active_expiring_by(self, at: datetime) -> list[Grant]:
        return self._grants(GrantStatus.ACTIVE, when=lambda g: _by(g.expires_at, at))

    def due_for_warning(self, now: datetime, horizon: timedelta) -> list[Grant]:
        return self._grants(
            GrantStatus.ACTIVE,
            when=lambda g: g.warned_at is None and _by(g.expires_at, now + horizon),
        )

    def grants_since(self, at: datetime) -> list[Grant]:
        found = [g for g in list(self.grants.values()) if g.ended_at is None or g.ended_at >= at]
        return sorted(found, key=lambda g: (g.created_at, g.id))

    def access_refs(self, cluster: str, *, after: str = "", limit: int = 0) -> list[GrantRef]:
        found = sorted(
            self._grants(*HOLDS_ACCESS, when=lambda g: g.cluster == cluster and g.id > after),
            key=lambda g: g.id,
        )
        return [
            GrantRef(
                g.id,
                g.status,
                g.profile,
                g.namespace,
                g.principal_arn,
                g.k8s_username,
                g.session_name,
                g.mapped_via,
            )
            for g in (found[:limit] if limit else found)
        ]

    def add_extension(
        self, extension: Extension, event: AuditEvent, notices: tuple[Notice, ...] = ()
    ) -> None:
        with self.lock:
            self.extensions[extension.id] = extension
            self.events.append(event)
            self.notices.extend(notices)

    def get_extension(self, extension_id: str) -> Extension | None:
        return self.extensions.get(extension_id)

    def _pending_extensions(self) -> list[Extension]:
        return [e for e in self.extensions.values() if e.status is ExtensionStatus.PENDING]

    def pending_extension_of(self, grant_id: str) -> Extension | None:
        return next((e for e in self._pending_extensions() if e.grant_id == grant_id), None)

    def extensions_past_deadline(self, now: datetime) -> list[Extension]:
        return [e for e in self._pending_extensions() if e.pending_until <= now]

    def record(self, event: AuditEvent) -> None:
        with self.lock:
            self.events.append(event)

    def audit_trail(self, grant_id: str) -> list[AuditEvent]:
        return [e for e in self.events if e.grant_id == grant_id]

    def actions(self) -> list[str]:
        return [e.action for e in self.events]

    def owed(self, *, limit: int) -> list[OwedNotice]:
        at = datetime.min.replace(tzinfo=UTC)
        owed = [
            OwedNotice(i, n, 0, at, at)
            for i, n in enumerate(self.notices, 1)
            if i not in self.delivered_ids
        ]
        return owed[:limit]

    def delivered(self, notice_id: int, now: datetime) -> None:
        self.delivered_ids.add(notice_id)

    def delivered_all(self, notice_ids: list[int], now: datetime) -> None:
        self.delivered_ids.update(notice_ids)


def _by(at: datetime | None, limit: datetime) -> bool:
    return at is not None and at <= limit


def _due(grant: Grant, now: datetime) -> bool:
    return grant.next_attempt_at is None or grant.next_attempt_at <= now


@dataclass
class FakeCluster:
    """Holds mappings (arn -> username) and bindings ((ns, grant id) -> RbacGrant)."""

    mappings: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)
    bindings: dict[tuple[str, str], RbacGrant] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: Principal ARNs `prepare_mapping` was told of (a hint, not a step: not in `calls`).
    prepared: list[str] = field(default_factory=list)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def ensure_mapping(self, identity: Identity) -> MappedIdentity:
        self._step("ensure_mapping")
        principal = identity.principal
        if principal.mapping_arn in self.foreign:
            username = identity.render(self.foreign[principal.mapping_arn])
            return MappedIdentity(username, MappedVia.EXISTING)
        self.mappings[principal.mapping_arn] = identity.owned_username_template
        return MappedIdentity(identity.owned_username, MappedVia.AWS_AUTH)

    def prepare_mapping(self, identity: Identity) -> None:
        self.prepared.append(identity.principal.arn)

    def remove_mapping(self, principal: Principal) -> None:
        self._step("remove_mapping")
        self.mappings.pop(principal.mapping_arn, None)

    def ensure_rbac(self, rbac: RbacGrant) -> None:
        self._step("ensure_rbac")
        self.bindings[(rbac.namespace, rbac.grant_id)] = rbac

    def delete_rbac(self, grant_id: str, namespace: str) -> None:
        self._step("delete_rbac")
        self.bindings.pop((namespace, grant_id), None)

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        self._step("owned_state")
        bindings: dict[str, set[str]] = {}
        for ns, gid in self.bindings:
            if ns in namespaces:
                bindings.setdefault(ns, set()).add(gid)
        return OwnedClusterState(bindings=bindings, mapped_arns=set(self.mappings))


class FakeClusters:
    def __init__(self) -> None:
        self.clusters: dict[str, FakeCluster] = {}

    def get(self, name: str) -> FakeCluster:
        return self.clusters.setdefault(name, FakeCluster())


class NoticeLog:
    """What the services owed people, read from the fake store's outbox by kind."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    @property
    def sent(self) -> list[Notice]:
        return list(self.store.notices)

    def names(self) -> list[str]:
        return [str(n.kind) for n in self.store.notices]

    def messages(self) -> list[str]:
        """`names`, but for the App Home refreshes every change of state also owes."""
        return [name for name in self.names() if name != NoticeKind.HOME_REFRESH]


class FakeDirectory:
    def __init__(
        self, groups: dict[str, set[str]] | None = None, emails: dict[str, str] | None = None
    ) -> None:
        self.groups = groups or {}
        self.emails = emails or {}

    def groups_of(self, user_id: str, candidates: tuple[str, ...]) -> frozenset[str]:
        return frozenset(g for g in candidates if user_id in self.groups.get(g, set()))

    def email_of(self, user_id: str) -> str | None:
        return self.emails.get(user_id)


class FakeTimers:
    def __init__(self) -> None:
        self.armed: dict[str, datetime] = {}

    def schedule(self, grant_id: str, at: datetime) -> None:
        self.armed[grant_id] = at

    def cancel(self, grant_id: str) -> None:
        self.armed.pop(grant_id, None)


POLICY = {
    "slack": {"approval_channel": "C0APPROVALS"},
    "clusters": [
        {"name": "dev", "kubeconfig": "/k", "default": True},
        {"name": "prod", "kubeconfig": "/k2"},
    ],
    "identities": {
        "U0ALICE": "arn:aws:iam::111122223333:user/alice",
        "U0DAVE": "arn:aws:iam::111122223333:role/teams/dave-admin",
        "U0CAROL": "arn:aws:iam::111122223333:user/carol",
    },
    "defaults": {
        "min_duration": "10s",
        "max_duration": "8h",
        "warn_before": "10m",
        "pending_timeout": "4h",
    },
    "profiles": {
        "pods-read": {
            "description": "Read pods",
            "namespaces": ["default", "payments"],
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
            "max_duration": "4h",
            "requesters": ["*"],
            "approvers": ["U0CAROL", "S0ONCALL"],
        },
        "self-view": {
            "description": "View",
            "namespaces": ["default"],
            "cluster_role": "view",
            "requesters": ["U0ALICE"],
            "approvers": ["U0ALICE"],
            "self_approval": True,
            "clusters": ["dev"],
        },
    },
}


@dataclass(frozen=True)
class FakeDeps(Deps):
    """Deps whose ports are the fakes, typed so a test can read what each one recorded."""

    store: FakeStore
    clusters: FakeClusters
    directory: FakeDirectory
    clock: FakeClock
    timers: FakeTimers

    @property
    def notifier(self) -> NoticeLog:
        return NoticeLog(self.store)


def make_deps(**overrides: Any) -> FakeDeps:
    ids = iter(f"id{n:06d}".replace("0", "a").replace("1", "b") for n in range(1, 10_000))
    values: dict[str, Any] = {
        "policy": parse_policy(POLICY),
        "store": FakeStore(),
        "clusters": FakeClusters(),
        "directory": FakeDirectory({"S0ONCALL": {"U0ERIN"}}),
        "clock": FakeClock(),
        "timers": FakeTimers(),
        "new_id": lambda: next(ids),
        "retry": Retry(),
    }
    values.update(overrides)
    return FakeDeps(**values)


def transient(msg: str = "apiserver unreachable") -> TransientError:
    return TransientError(msg)


def profile(deps: Deps, name: str) -> Profile:
    return deps.policy.profiles[name]


def cluster(deps: Deps, name: str = "dev") -> ClusterConfig:
    c = deps.policy.cluster(name)
    assert c is not None
    return c
