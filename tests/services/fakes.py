"""In-memory fakes of the core's own ports (never of a library)."""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.clock import FakeClock
from bot.domain.errors import TransientError
from bot.domain.grants import (
    AuditEvent,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
)
from bot.domain.policy import ClusterConfig, Profile
from bot.domain.ports import MessageRef, OwnedClusterState
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import RbacGrant
from bot.policy_file import parse_policy
from bot.services.deps import Deps, Retry


class FakeStore:
    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.extensions: dict[str, Extension] = {}
        self.events: list[AuditEvent] = []
        self.lock = threading.Lock()

    def add_grant(self, grant: Grant, event: AuditEvent) -> None:
        with self.lock:
            self.grants[grant.id] = grant
            self.events.append(event)

    def get_grant(self, grant_id: str) -> Grant | None:
        return self.grants.get(grant_id)

    def update_grant(
        self,
        grant_id: str,
        *,
        expect: Collection[GrantStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Grant | None:
        with self.lock:
            g = self.grants.get(grant_id)
            if g is None or g.status not in expect:
                return None
            self.grants[grant_id] = g = replace(g, **changes)  # type: ignore[arg-type]
            if event:
                self.events.append(event)
            return g

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
    ) -> list[Grant]:
        out = []
        for g in list(self.grants.values()):
            if g.status not in statuses:
                continue
            if (requester and g.requester != requester) or (
                principal_arn and g.principal_arn != principal_arn
            ):
                continue
            if cluster and g.cluster != cluster:
                continue
            if expires_before and not (g.expires_at and g.expires_at <= expires_before):
                continue
            if pending_before and not g.pending_until <= pending_before:
                continue
            if attempt_due and g.next_attempt_at and g.next_attempt_at > attempt_due:
                continue
            out.append(g)
        return out[:limit] if limit else out

    def grant_refs(self, *, statuses: Collection[GrantStatus], cluster: str) -> list[GrantRef]:
        return [
            GrantRef(g.id, g.status, g.profile, g.namespace, g.principal_arn, g.k8s_username)
            for g in self.grants.values()
            if g.status in statuses and g.cluster == cluster
        ]

    def find_warn_due(self, now: datetime, horizon: timedelta) -> list[Grant]:
        return [
            g
            for g in self.grants.values()
            if g.status is GrantStatus.ACTIVE
            and g.warned_at is None
            and g.expires_at
            and g.expires_at <= now + horizon
        ]

    def add_extension(self, extension: Extension, event: AuditEvent) -> None:
        self.extensions[extension.id] = extension
        self.events.append(event)

    def get_extension(self, extension_id: str) -> Extension | None:
        return self.extensions.get(extension_id)

    def update_extension(
        self,
        extension_id: str,
        *,
        expect: Collection[ExtensionStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Extension | None:
        with self.lock:
            e = self.extensions.get(extension_id)
            if e is None or e.status not in expect:
                return None
            self.extensions[extension_id] = e = replace(e, **changes)  # type: ignore[arg-type]
            if event:
                self.events.append(event)
            return e

    def find_extensions(
        self,
        *,
        statuses: Collection[ExtensionStatus],
        grant_id: str | None = None,
        pending_before: datetime | None = None,
    ) -> list[Extension]:
        return [
            e
            for e in self.extensions.values()
            if e.status in statuses
            and (grant_id is None or e.grant_id == grant_id)
            and (pending_before is None or e.pending_until <= pending_before)
        ]

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def audit_trail(self, grant_id: str) -> list[AuditEvent]:
        return [e for e in self.events if e.grant_id == grant_id]

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


@dataclass
class FakeCluster:
    """Holds mappings (arn -> username) and bindings ((ns, grant id) -> RbacGrant)."""

    mappings: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)
    bindings: dict[tuple[str, str], RbacGrant] = field(default_factory=dict)
    fail_next: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_next:
            raise self.fail_next.pop(0)

    def ensure_mapping(self, identity: Identity) -> str:
        self._step("ensure_mapping")
        principal = identity.principal
        if principal.mapping_arn in self.foreign:
            return identity.render(self.foreign[principal.mapping_arn])
        self.mappings[principal.mapping_arn] = identity.owned_username_template
        return identity.owned_username

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


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> Any:
            self.sent.append((name, args))
            if name in ("approval_requested", "extension_requested"):
                return MessageRef("C0APPROVALS", f"{len(self.sent)}.0001")
            return None

        return record

    def names(self) -> list[str]:
        return [n for n, _ in self.sent]


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


def make_deps(**overrides: Any) -> Deps:
    ids = iter(f"id{n:06d}".replace("0", "a").replace("1", "b") for n in range(1, 10_000))
    values: dict[str, Any] = {
        "policy": parse_policy(POLICY),
        "store": FakeStore(),
        "clusters": FakeClusters(),
        "notifier": FakeNotifier(),
        "directory": FakeDirectory({"S0ONCALL": {"U0ERIN"}}),
        "clock": FakeClock(),
        "timers": FakeTimers(),
        "new_id": lambda: next(ids),
        "retry": Retry(),
    }
    values.update(overrides)
    return Deps(**values)


def transient(msg: str = "apiserver unreachable") -> TransientError:
    return TransientError(msg)


def profile(deps: Deps, name: str) -> Profile:
    return deps.policy.profiles[name]


def cluster(deps: Deps, name: str = "dev") -> ClusterConfig:
    c = deps.policy.cluster(name)
    assert c is not None
    return c
