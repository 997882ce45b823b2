"""Reconcile on the real apiserver: the database wins, for the bot's own objects only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain.commands import GrantCommand
from bot.domain.durations import parse_duration
from bot.domain.grants import AuditEvent, GrantStatus
from bot.domain.ports import OwnedClusterState
from bot.domain.rbac import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from bot.domain.transition_values import GrantTransition
from bot.policy_file import parse_policy
from bot.services.decide import DecideRequest
from bot.services.deps import Deps
from bot.services.reconcile import ReconcileCluster
from bot.services.request_access import RequestAccess
from bot.services.revoke import RevokeGrant
from tests.e2e.conftest import e2e_policy
from tests.services.fakes import FakeDirectory, FakeTimers
from tests.support.kube_objects import data_of, name_of

pytestmark = [pytest.mark.kube]
USERS = [f"U0R{i:03d}" for i in range(12)]


class CountingGateway:
    """Counts the calls reconcile makes on the port (our own interface)."""

    def __init__(self, inner: KubernetesClusterGateway) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            return target(*args)

        return call

    def owned_state(self, namespaces: set[str]) -> OwnedClusterState:
        self.calls.append("owned_state")
        return self.inner.owned_state(namespaces)


class Clusters:
    def __init__(self, gateway: CountingGateway) -> None:
        self.gateway = gateway

    def get(self, name: str) -> CountingGateway:
        return self.gateway


@pytest.fixture
def deps(kube_env, aws_auth_reset, sqlite_url: str) -> Iterator[Deps]:
    policy_doc = e2e_policy(kube_env.bot_kubeconfig)
    policy_doc["identities"].update({u: f"arn:aws:iam::111122223333:user/r{u[-3:]}" for u in USERS})
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    gateway = CountingGateway(KubernetesClusterGateway(kube_env.bot_api_client()))
    from bot.domain.clock import SystemClock

    yield Deps(
        policy=parse_policy(policy_doc),
        store=SqlGrantStore(engine),
        clusters=Clusters(gateway),
        directory=FakeDirectory(),
        clock=SystemClock(),
        timers=FakeTimers(),
    )
    engine.dispose()


def grant_for(deps: Deps, user: str) -> str:
    grant = RequestAccess(deps).execute(
        requester=user, command=GrantCommand("pods-read", parse_duration("1h"), "default")
    )
    active = DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)
    assert active.status is GrantStatus.ACTIVE
    return grant.id


def username(user: str) -> str:
    return f"eks-access:111122223333:user/r{user[-3:]}"


def test_reapplies_missing_pieces_removes_orphans_and_leaves_foreign_objects(
    deps: Deps, kube_env, aws_auth_reset
) -> None:
    admin = kube_env.admin_api_client()
    rbac = client.RbacAuthorizationV1Api(admin)
    core = client.CoreV1Api(admin)
    kept = grant_for(deps, USERS[0])
    ended = grant_for(deps, USERS[1])
    # Someone deletes the active grant's binding by hand.
    rbac.delete_namespaced_role_binding(f"eks-access-{kept}", "default")
    assert not kube_env.settled_can(username(USERS[0]), [], "list", "pods", "default", expect=False)
    # The database ends a grant while its binding stays (as if the revoke never reached it).
    deps.store.apply(
        GrantTransition(
            ended,
            frozenset({GrantStatus.ACTIVE}),
            {"status": GrantStatus.ENDED},
            AuditEvent(datetime.now(UTC), "test", "grant.ended", ended),
        )
    )
    # An orphan the bot owns, and a foreign binding with no label.
    for name, labels in (
        (
            "eks-access-orphan01",
            {MANAGED_BY_LABEL: MANAGED_BY_VALUE, "eks-access/grant-id": "orphan01"},
        ),
        ("team-debuggers", None),
    ):
        rbac.create_namespaced_role_binding(
            "default",
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=name, labels=labels),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="User", name="someone", api_group="rbac.authorization.k8s.io"
                    )
                ],
            ),
        )
    # An owned aws-auth entry no grant needs.
    cm = core.read_namespaced_config_map("aws-auth", "kube-system")
    data_of(cm)["mapUsers"] += (
        '- {userarn: "arn:aws:iam::111122223333:user/ghost", '
        'username: "eks-access:111122223333:user/ghost", groups: []}\n'
    )
    core.replace_namespaced_config_map("aws-auth", "kube-system", cm)

    report = ReconcileCluster(deps).execute(cluster="dev")

    assert report.reapplied == [kept]
    assert sorted(report.removed_bindings) == sorted([f"default/{ended}", "default/orphan01"])
    assert sorted(report.removed_mappings) == [
        "arn:aws:iam::111122223333:user/ghost",
        "arn:aws:iam::111122223333:user/r001",  # the ended grant's
    ]
    assert kube_env.settled_can(username(USERS[0]), [], "list", "pods", "default", expect=True)
    assert not kube_env.settled_can(username(USERS[1]), [], "list", "pods", "default", expect=False)
    names = {name_of(b) for b in rbac.list_namespaced_role_binding("default").items}
    assert "team-debuggers" in names and "eks-access-orphan01" not in names
    data = data_of(core.read_namespaced_config_map("aws-auth", "kube-system"))
    assert data["mapRoles"] == aws_auth_reset["mapRoles"]
    users = yaml.safe_load(data["mapUsers"])
    assert yaml.safe_load(aws_auth_reset["mapUsers"])[0] in users
    assert not any(u.get("userarn", "").endswith("user/ghost") for u in users)
    assert any(u.get("username") == username(USERS[0]) for u in users)
    assert not any(u.get("username") == username(USERS[1]) for u in users)
    RevokeGrant(deps).execute(grant_id=kept, actor="U0CAROL")


def test_cost_does_not_grow_with_the_number_of_grants(deps: Deps) -> None:
    gateway = deps.clusters.get("dev")
    assert isinstance(gateway, CountingGateway)
    ids = [grant_for(deps, u) for u in USERS]
    gateway.calls.clear()
    report = ReconcileCluster(deps).execute(cluster="dev")
    assert (
        report.reapplied == [] and report.removed_bindings == [] and report.removed_mappings == []
    )
    assert gateway.calls == ["owned_state"], "one listing for all grants, nothing per grant"
    for grant_id in ids:
        RevokeGrant(deps).execute(grant_id=grant_id, actor="U0CAROL")
