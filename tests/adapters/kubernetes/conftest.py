"""Shared pieces of the Kubernetes adapter tests: the bot's gateway and grant builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.domain.principals import Principal
from bot.domain.rbac import PolicyRule, RbacGrant, role_name
from tests.support.kube import KubeEnv

PODS_READ_RULES = (
    PolicyRule(api_groups=("",), resources=("pods", "pods/log"), verbs=("get", "list", "watch")),
)
EXPIRES = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


class CountingApiClient(client.ApiClient):
    """An ApiClient that records each HTTP call, to prove how many a method makes."""

    def __init__(self, configuration: client.Configuration) -> None:
        super().__init__(configuration)
        self.calls: list[tuple[str, str]] = []

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, url.split("?", 1)[0]))
        return super().call_api(method, url, *args, **kwargs)


def principal(name: str, kind: str = "role", account: str = "123456789012") -> Principal:
    return Principal.parse(f"arn:aws:iam::{account}:{kind}/{name}")


def pods_read_grant(
    grant_id: str, who: Principal, namespace: str = "default", **overrides: object
) -> RbacGrant:
    values: dict[str, object] = {
        "grant_id": grant_id,
        "profile": "pods-read",
        "namespace": namespace,
        "subject_user": who.username,
        "role_ref_kind": "Role",
        "role_ref_name": role_name("pods-read"),
        "rules": PODS_READ_RULES,
        "expires_at": EXPIRES,
        "requester": "U024BE7LH",
    }
    values.update(overrides)
    return RbacGrant(**values)  # type: ignore[arg-type]


def view_grant(grant_id: str, who: Principal, namespace: str = "payments") -> RbacGrant:
    return pods_read_grant(
        grant_id,
        who,
        namespace,
        profile="view",
        role_ref_kind="ClusterRole",
        role_ref_name="view",
        rules=(),
    )


def read_aws_auth(kube_env: KubeEnv) -> client.V1ConfigMap:
    core = client.CoreV1Api(kube_env.admin_api_client())
    cm: client.V1ConfigMap = core.read_namespaced_config_map("aws-auth", "kube-system")
    return cm


def foreign_entries(text: str) -> list[object]:
    """The parsed entries of a mapRoles/mapUsers value that the bot did not write."""
    items = yaml.safe_load(text) or []
    return [i for i in items if not str(i.get("username", "")).startswith("eks-access:")]


@pytest.fixture
def bot_gateway(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> Iterator[KubernetesClusterGateway]:
    """The gateway as the bot's own least-privilege identity, on a freshly reset cluster."""
    with api_client_from_kubeconfig(kube_env.bot_kubeconfig) as api_client:
        yield KubernetesClusterGateway(api_client)
