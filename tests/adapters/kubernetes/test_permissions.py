"""The bot's own RBAC: no wildcards, matches deploy/, and every verb in it is needed."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.adapters.kubernetes.permissions import (
    GRANTS_ROLE,
    bot_permissions_manifest,
    needed_access,
    policy_permissions_manifest,
)
from bot.domain.errors import PermanentError
from bot.domain.rbac import role_name
from bot.policy_file import parse_policy
from tests.adapters.kubernetes.conftest import pods_read_grant, principal, view_grant
from tests.support.envtest import apply_manifest
from tests.support.kube import BOT_GROUP, BOT_USER, TEST_OBJECT_LABEL, KubeEnv

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "bot-rbac.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "policy.example.yaml"
GROUP_SUBJECT = {
    "kind": "Group",
    "name": "eks-access:bots",
    "apiGroup": "rbac.authorization.k8s.io",
}


def _rules(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield from doc.get("rules", [])


def test_deploy_manifest_is_the_rendered_example_policy() -> None:
    checked_in = [d for d in yaml.safe_load_all(DEPLOY.read_text()) if d]

    assert checked_in == bot_permissions_manifest(
        role_names=["eks-access-pods-read"],
        cluster_role_refs=["view"],
        namespaces=["default"],
        subject=GROUP_SUBJECT,
    )


def test_manifest_has_no_wildcards_and_names_everything_it_can() -> None:
    docs = bot_permissions_manifest(
        role_names=["eks-access-pods-read", "eks-access-ns-admin"],
        cluster_role_refs=["view", "edit"],
        namespaces=["default", "payments"],
        subject=GROUP_SUBJECT,
    )

    for rule in _rules(docs):
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(key, []), rule
        # Verbs that a name cannot restrict are the only ones allowed without resourceNames.
        if "resourceNames" not in rule:
            assert set(rule["verbs"]) <= {"create", "get", "list", "update", "patch", "delete"}
            assert rule["resources"] in (["rolebindings"], ["roles"])
            if rule["resources"] == ["roles"]:
                assert rule["verbs"] == ["create"]
    assert not any("configmaps" in r["resources"] and "create" in r["verbs"] for r in _rules(docs))


def test_wildcard_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no wildcards"):
        bot_permissions_manifest(
            role_names=["*"], cluster_role_refs=[], namespaces=["default"], subject=GROUP_SUBJECT
        )


@pytest.mark.kube
def test_bot_identity_holds_only_what_it_needs(kube_env: KubeEnv) -> None:
    def can(verb: str, resource: str, namespace: str, group: str = "") -> bool:
        return kube_env.can(BOT_USER, [BOT_GROUP], verb, resource, namespace, group)

    rbac = "rbac.authorization.k8s.io"
    assert can("create", "rolebindings", "payments", rbac)
    assert not can("create", "rolebindings", "kube-system", rbac)
    assert not can("create", "clusterrolebindings", "", rbac)
    assert not can("get", "secrets", "default")
    assert not can("list", "pods", "default")
    assert not can("update", "configmaps", "kube-system")  # only aws-auth, by name
    assert not can("bind", "clusterroles", "default", rbac)  # only by name


# -- every verb is necessary: drop it and the gateway's operation is refused -----------------


def _variant_manifest(user: str, drop: tuple[str, str] | None) -> list[dict[str, Any]]:
    """The grants Role for `payments`, bound to `user`, optionally without one verb."""
    docs = bot_permissions_manifest(
        role_names=[role_name("pods-read")],
        cluster_role_refs=["view"],
        namespaces=["payments"],
        subject={"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"},
    )
    docs = [copy.deepcopy(d) for d in docs if d["metadata"].get("namespace") == "payments"]
    for doc in docs:
        doc["metadata"]["name"] = f"{GRANTS_ROLE}-{user}"
        doc["metadata"]["labels"][TEST_OBJECT_LABEL] = "variant"
        if doc["kind"] == "RoleBinding":
            doc["roleRef"]["name"] = f"{GRANTS_ROLE}-{user}"
        for rule in doc.get("rules", []):
            if drop and rule["resources"] == [drop[0]] and "resourceNames" in rule:
                rule["verbs"] = [v for v in rule["verbs"] if v != drop[1]]
        if "rules" in doc:
            doc["rules"] = [r for r in doc["rules"] if r["verbs"]]
    return docs


@pytest.mark.kube
@pytest.mark.parametrize(
    ("drop", "grant_kind"),
    [
        (None, "role"),
        (None, "cluster-role"),
        (("roles", "escalate"), "role"),
        (("roles", "bind"), "role"),
        (("clusterroles", "bind"), "cluster-role"),
    ],
    ids=["all-verbs-role", "all-verbs-clusterrole", "no-escalate", "no-bind-role", "no-bind-cr"],
)
def test_each_rbac_verb_is_needed(
    kube_env: KubeEnv,
    aws_auth_reset: dict[str, str],
    drop: tuple[str, str] | None,
    grant_kind: str,
) -> None:
    user = f"bot-variant-{drop[0]}-{drop[1]}" if drop else "bot-variant-full"
    apply_manifest(kube_env.admin_api_client(), _variant_manifest(user, drop))
    # A refusal must come from the missing verb, not from an authorizer cache still catching up.
    rbac_group = "rbac.authorization.k8s.io"
    assert kube_env.settled_can(
        user, [], "create", "rolebindings", "payments", rbac_group, expect=True
    )
    alice = principal("dev-alice")
    grant = (
        pods_read_grant("vrnt2222", alice, "payments")
        if grant_kind == "role"
        else view_grant("vrnt2222", alice, "payments")
    )
    with api_client_from_kubeconfig(kube_env.kubeconfig_for(user)) as api_client:
        gateway = KubernetesClusterGateway(api_client)
        if drop is None:
            gateway.ensure_rbac(grant)
            assert kube_env.settled_can(alice.username, [], "list", "pods", "payments", expect=True)
        else:
            with pytest.raises(PermanentError, match="403"):
                gateway.ensure_rbac(grant)
            assert not kube_env.can(alice.username, [], "list", "pods", "payments")
    rbac = client.RbacAuthorizationV1Api(kube_env.admin_api_client())
    if grant_kind == "role" and drop == ("roles", "escalate"):
        # Created empty (plain `create`), then refused when the rules were added.
        role = rbac.read_namespaced_role(role_name("pods-read"), "payments")
        assert not role.rules


# -- the preflight's list is the manifest's, request by request --------------------------------


def test_needed_access_is_every_request_the_manifest_allows() -> None:
    docs = bot_permissions_manifest(
        role_names=["eks-access-pods-read"],
        cluster_role_refs=["view"],
        namespaces=["default"],
        subject=GROUP_SUBJECT,
    )
    needs = needed_access(docs)

    allowed = {
        (verb, group, resource, doc["metadata"]["namespace"], name)
        for doc in docs
        if doc["kind"] == "Role"
        for rule in doc["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for name in rule.get("resourceNames", [None])
        for verb in rule["verbs"]
    }
    assert {(a.verb, a.group, a.resource, a.namespace, a.name) for a in needs} == allowed
    assert len(needs) == len(allowed) == 3 + 6 + 1 + 5 + 1
    assert [str(a) for a in needs if a.verb == "bind"] == [
        "bind roles.rbac.authorization.k8s.io/eks-access-pods-read in default",
        "bind clusterroles.rbac.authorization.k8s.io/view in default",
    ]
    assert str(needs[0]) == "get configmaps/aws-auth in kube-system"


def test_a_cluster_needs_only_its_profiles_and_aws_auth_only_where_used() -> None:
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["clusters"].append({"name": "prod", "kubeconfig": "/k"})
    doc["profiles"]["prod-view"] = {
        "namespaces": ["payments"],
        "cluster_role": "view",
        "clusters": ["prod"],
        "requesters": ["*"],
        "approvers": ["U0CAROL"],
    }
    policy = parse_policy(doc)

    def namespaces(**kwargs: Any) -> set[str]:
        return {d["metadata"]["namespace"] for d in policy_permissions_manifest(policy, **kwargs)}

    assert namespaces() == {"kube-system", "default", "payments"}  # `eks-access permissions`
    assert namespaces(cluster="dev") == {"kube-system", "default"}
    assert namespaces(cluster="prod", aws_auth=False) == {"default", "payments"}
