"""The bot's own RBAC: no wildcards, matches deploy/, and every verb in it is needed."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.adapters.kubernetes.permissions import (
    RBAC_GROUP,
    bot_permissions_manifest,
    needed_access,
    policy_permissions_manifest,
)
from bot.domain.errors import PermanentError
from bot.domain.manifests import role_binding_manifest
from bot.domain.principals import Identity
from bot.domain.rbac import binding_name, role_name
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
            assert set(rule["verbs"]) <= {"create", "get", "list", "update", "delete"}
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


# -- every verb is needed: without it, a gateway operation is refused ---------------------
#
# Each case names one verb the generator grants, the gateway operation that calls it, and the
# call that operation then names in its refusal. The same operation, on the same cluster state,
# succeeds as a user holding every verb, so the refusal is the missing verb's and no other's.

GRANT_ID = "vrbs2222"
ALICE = principal("dev-alice")
BINDING = f"payments/{binding_name(GRANT_ID)}"
PROFILE_ROLE = f"payments/{role_name('pods-read')}"
AWS_AUTH = "ConfigMap kube-system/aws-auth"


def _put_bot_binding(kube_env: KubeEnv, subject: str = ALICE.username) -> None:
    """The grant's RoleBinding as the bot would have made it (to `subject`), made as admin."""
    doc = role_binding_manifest(view_grant(GRANT_ID, ALICE, "payments"))
    doc["subjects"][0]["name"] = subject
    client.RbacAuthorizationV1Api(kube_env.admin_api_client()).create_namespaced_role_binding(
        "payments", client.V1RoleBinding.model_validate(doc)
    )


def _role_rules(kube_env: KubeEnv) -> list[Any]:
    rbac = client.RbacAuthorizationV1Api(kube_env.admin_api_client())
    return rbac.read_namespaced_role(role_name("pods-read"), "payments").rules or []


@dataclass(frozen=True)
class VerbCase:
    resource: str
    verb: str
    #: Granted by a rule with resourceNames (the profile Role, aws-auth, a ClusterRole).
    named: bool
    operation: Callable[[KubernetesClusterGateway], object]
    #: The call the refusal names: "Could not <refused>: Kubernetes API answered 403".
    refused: str
    #: What an administrator puts in place first, so that the operation reaches that call.
    prepare: Callable[[KubeEnv], None] = lambda _env: None
    #: What the refused operation left behind, checked before the retry with every verb.
    left_behind: Callable[[KubeEnv], None] = lambda _env: None

    @property
    def id(self) -> str:
        return f"{self.resource}-{self.verb}"

    def review(self) -> tuple[str, str, str]:
        """Namespace, API group and object name of the SubjectAccessReview for this verb."""
        if self.resource == "configmaps":
            return "kube-system", "", "aws-auth"
        name = {"roles": role_name("pods-read"), "clusterroles": "view"}.get(self.resource, "")
        return "payments", RBAC_GROUP, name if self.named else ""


def _ensure_pods_read(gateway: KubernetesClusterGateway) -> None:
    gateway.ensure_rbac(pods_read_grant(GRANT_ID, ALICE, "payments"))


def _ensure_view(gateway: KubernetesClusterGateway) -> None:
    gateway.ensure_rbac(view_grant(GRANT_ID, ALICE, "payments"))


def _delete_binding(gateway: KubernetesClusterGateway) -> None:
    gateway.delete_rbac(GRANT_ID, "payments")


VERB_CASES = [
    VerbCase(
        "configmaps",
        "get",
        True,
        lambda gateway: gateway.remove_mapping(ALICE),
        f"read {AWS_AUTH}",
    ),
    VerbCase(
        "configmaps",
        "update",
        True,
        lambda gateway: gateway.ensure_mapping(Identity(ALICE)),
        f"update {AWS_AUTH}",
    ),
    VerbCase("rolebindings", "create", False, _ensure_view, f"create RoleBinding {BINDING}"),
    VerbCase(
        "rolebindings",
        "get",
        False,
        _delete_binding,
        f"read RoleBinding {BINDING}",
        prepare=_put_bot_binding,
    ),
    VerbCase(
        "rolebindings",
        "list",
        False,
        lambda gateway: gateway.owned_state({"payments"}),
        "list RoleBindings in namespace payments",
    ),
    VerbCase(
        "rolebindings",
        "update",
        False,
        _ensure_view,  # the binding exists with another subject: converged by an update
        f"update RoleBinding {BINDING}",
        prepare=lambda env: _put_bot_binding(env, subject="someone-else"),
    ),
    VerbCase(
        "rolebindings",
        "delete",
        False,
        _delete_binding,
        f"delete RoleBinding {BINDING}",
        prepare=_put_bot_binding,
    ),
    VerbCase("roles", "create", False, _ensure_pods_read, f"create Role {PROFILE_ROLE}"),
    VerbCase("roles", "get", True, _ensure_pods_read, f"read Role {PROFILE_ROLE}"),
    VerbCase("roles", "update", True, _ensure_pods_read, f"update Role {PROFILE_ROLE}"),
    VerbCase(
        "roles",
        "escalate",
        True,
        _ensure_pods_read,
        f"update Role {PROFILE_ROLE}",
        # Created empty (plain `create`), then refused when the rules were added.
        left_behind=lambda env: _assert_empty(_role_rules(env)),
    ),
    VerbCase("roles", "bind", True, _ensure_pods_read, f"create RoleBinding {BINDING}"),
    VerbCase("clusterroles", "bind", True, _ensure_view, f"create RoleBinding {BINDING}"),
]


def _assert_empty(rules: list[Any]) -> None:
    assert rules == []


def _variant_manifest(user: str, drop: VerbCase | None) -> list[dict[str, Any]]:
    """The bot's RBAC for `payments` (and aws-auth), bound to `user`, optionally less one verb."""
    docs = bot_permissions_manifest(
        role_names=[role_name("pods-read")],
        cluster_role_refs=["view"],
        namespaces=["payments"],
        subject={"kind": "User", "name": user, "apiGroup": RBAC_GROUP},
    )
    docs = copy.deepcopy(docs)
    for doc in docs:
        doc["metadata"]["name"] += f"-{user}"
        doc["metadata"]["labels"][TEST_OBJECT_LABEL] = "variant"
        if doc["kind"] == "RoleBinding":
            doc["roleRef"]["name"] += f"-{user}"
            continue
        for rule in doc["rules"]:
            named = "resourceNames" in rule
            if drop and rule["resources"] == [drop.resource] and named == drop.named:
                rule["verbs"] = [v for v in rule["verbs"] if v != drop.verb]
        doc["rules"] = [r for r in doc["rules"] if r["verbs"]]
    return docs


def _granted(docs: list[dict[str, Any]]) -> set[tuple[str, str, bool]]:
    return {
        (resource, verb, "resourceNames" in rule)
        for rule in _rules(docs)
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_every_granted_verb_has_an_operation_that_needs_it() -> None:
    generated = _granted(_variant_manifest("bot", None))

    assert {(c.resource, c.verb, c.named) for c in VERB_CASES} == generated
    assert not any(verb == "patch" for _, verb, _ in generated)  # every write is a replace


def _apply_and_settle(kube_env: KubeEnv, docs: list[dict[str, Any]], user: str) -> None:
    """Apply `docs` and wait until every Role in them is in effect for `user`."""
    apply_manifest(kube_env.admin_api_client(), docs)
    for role in (d for d in docs if d["kind"] == "Role"):
        rule = role["rules"][0]
        in_effect = kube_env.settled_can(
            user,
            [],
            rule["verbs"][0],
            rule["resources"][0],
            role["metadata"]["namespace"],
            rule["apiGroups"][0],
            name=(rule.get("resourceNames") or [""])[0],
            expect=True,
        )
        assert in_effect, f"{role['metadata']['name']} did not take effect"


@pytest.mark.kube
@pytest.mark.parametrize("case", VERB_CASES, ids=lambda case: case.id)
def test_without_each_verb_an_operation_is_refused(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], case: VerbCase
) -> None:
    without, every = f"bot-without-{case.id}", "bot-with-every-verb"
    _apply_and_settle(kube_env, _variant_manifest(without, case), without)
    _apply_and_settle(kube_env, _variant_manifest(every, None), every)
    namespace, group, name = case.review()
    assert not kube_env.can(without, [], case.verb, case.resource, namespace, group, name=name)
    assert kube_env.can(every, [], case.verb, case.resource, namespace, group, name=name)
    case.prepare(kube_env)

    with (
        api_client_from_kubeconfig(kube_env.kubeconfig_for(without)) as api_client,
        pytest.raises(PermanentError) as refused,
    ):
        case.operation(KubernetesClusterGateway(api_client))
    assert f"Could not {case.refused}: Kubernetes API answered 403" in str(refused.value)
    case.left_behind(kube_env)

    # The same operation on the same cluster state, with every verb: it goes through.
    with api_client_from_kubeconfig(kube_env.kubeconfig_for(every)) as api_client:
        case.operation(KubernetesClusterGateway(api_client))


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
    assert len(needs) == len(allowed) == 2 + 5 + 1 + 4 + 1
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
