"""Grant RBAC through the gateway, as the bot's least-privilege identity, on a real apiserver."""

from __future__ import annotations

import pytest
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.gateway import KubernetesClusterGateway
from bot.domain.errors import PermanentError
from bot.domain.ports import OwnedClusterState
from bot.domain.principals import Identity
from bot.domain.rbac import (
    EXPIRES_ANNOTATION,
    GRANT_ID_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PolicyRule,
    role_name,
)
from tests.adapters.kubernetes.conftest import (
    EXPIRES,
    CountingApiClient,
    pods_read_grant,
    principal,
    read_aws_auth,
    view_grant,
)
from tests.support.kube import TEST_OBJECT_LABEL, KubeEnv
from tests.support.kube_objects import annotations_of, labels_of, meta, name_of

pytestmark = pytest.mark.kube


def _rbac(kube_env: KubeEnv) -> client.RbacAuthorizationV1Api:
    return client.RbacAuthorizationV1Api(kube_env.admin_api_client())


def _binding(kube_env: KubeEnv, namespace: str, name: str) -> client.V1RoleBinding:
    binding: client.V1RoleBinding = _rbac(kube_env).read_namespaced_role_binding(name, namespace)
    return binding


def _can_list_pods(
    kube_env: KubeEnv, user: str, namespace: str = "default", *, expect: bool
) -> bool:
    """Whether `user` may list pods, once the authorizer has seen our last change."""
    return kube_env.settled_can(user, [], "list", "pods", namespace, expect=expect)


def test_grant_gives_access_and_revoke_takes_it_away(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway, aws_auth_reset: dict[str, str]
) -> None:
    alice = principal("dev-alice")
    username = bot_gateway.ensure_mapping(Identity(alice)).username
    assert not _can_list_pods(kube_env, username, expect=False)

    bot_gateway.ensure_rbac(pods_read_grant("k3x9p2ab", alice))

    assert _can_list_pods(kube_env, username, expect=True)
    assert kube_env.can(username, [], "get", "pods", "default")
    assert kube_env.can(username, [], "watch", "pods", "default")
    assert not _can_list_pods(kube_env, username, "payments", expect=False)
    assert not kube_env.can(username, [], "delete", "pods", "default")
    assert not kube_env.can(username, [], "get", "secrets", "default")
    binding = _binding(kube_env, "default", "eks-access-k3x9p2ab")
    assert labels_of(binding)[MANAGED_BY_LABEL] == MANAGED_BY_VALUE
    assert labels_of(binding)[GRANT_ID_LABEL] == "k3x9p2ab"
    assert annotations_of(binding)[EXPIRES_ANNOTATION] == EXPIRES.isoformat()

    bot_gateway.delete_rbac("k3x9p2ab", "default")
    bot_gateway.remove_mapping(alice)

    assert not _can_list_pods(kube_env, username, expect=False)
    assert read_aws_auth(kube_env).data == aws_auth_reset
    # The shared profile Role stays for the next grant; it grants nothing unbound.
    role = _rbac(kube_env).read_namespaced_role(role_name("pods-read"), "default")
    assert labels_of(role)[MANAGED_BY_LABEL] == MANAGED_BY_VALUE


def test_grant_of_an_existing_cluster_role_is_limited_to_its_namespace(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    bob = principal("dev-bob")

    bot_gateway.ensure_rbac(view_grant("vw2bob22", bob, "payments"))

    assert _can_list_pods(kube_env, bob.username, "payments", expect=True)
    assert kube_env.can(bob.username, [], "list", "deployments", "payments", group="apps")
    assert not _can_list_pods(kube_env, bob.username, "default", expect=False)
    assert not kube_env.can(bob.username, [], "get", "secrets", "payments")


def test_everything_is_idempotent(kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway) -> None:
    alice = principal("dev-alice")
    grant = pods_read_grant("idem2222", alice)
    bot_gateway.ensure_rbac(grant)
    binding = _binding(kube_env, "default", grant.binding_name)
    role = _rbac(kube_env).read_namespaced_role(role_name("pods-read"), "default")

    bot_gateway.ensure_rbac(grant)

    assert (
        meta(_binding(kube_env, "default", grant.binding_name)).resource_version
        == meta(binding).resource_version
    )
    assert (
        meta(_rbac(kube_env).read_namespaced_role(name_of(role), "default")).resource_version
        == meta(role).resource_version
    )
    bot_gateway.delete_rbac(grant.grant_id, "default")
    bot_gateway.delete_rbac(grant.grant_id, "default")
    bot_gateway.delete_rbac("neverwas", "payments")
    assert not _can_list_pods(kube_env, alice.username, expect=False)


def test_changed_role_ref_recreates_the_binding(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice = principal("dev-alice")
    bot_gateway.ensure_rbac(pods_read_grant("chg22222", alice))
    before = _binding(kube_env, "default", "eks-access-chg22222")

    bot_gateway.ensure_rbac(view_grant("chg22222", alice, "default"))

    after = _binding(kube_env, "default", "eks-access-chg22222")
    assert (after.role_ref.kind, after.role_ref.name) == ("ClusterRole", "view")
    assert meta(after).uid != meta(before).uid
    assert kube_env.settled_can(alice.username, [], "list", "configmaps", "default", expect=True)


def test_changed_subject_and_expiry_update_the_binding_in_place(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    grant = pods_read_grant("ext22222", principal("dev-alice"))
    bot_gateway.ensure_rbac(grant)
    before = _binding(kube_env, "default", grant.binding_name)
    later = EXPIRES.replace(hour=18)

    bot_gateway.ensure_rbac(pods_read_grant("ext22222", principal("dev-carol"), expires_at=later))

    after = _binding(kube_env, "default", grant.binding_name)
    assert meta(after).uid == meta(before).uid
    assert [s.name for s in after.subjects or []] == [principal("dev-carol").username]
    assert annotations_of(after)[EXPIRES_ANNOTATION] == later.isoformat()


def test_profile_role_drift_is_repaired_by_the_next_grant_once_it_is_not_fresh(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    alice = principal("dev-alice")
    api_client = api_client_from_kubeconfig(kube_env.bot_kubeconfig)
    bot_gateway = KubernetesClusterGateway(api_client, role_fresh_for=0.0)
    bot_gateway.ensure_rbac(pods_read_grant("drift222", alice))
    rbac = _rbac(kube_env)
    role = rbac.read_namespaced_role(role_name("pods-read"), "default")
    role.rules = [client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get"])]
    rbac.replace_namespaced_role(name_of(role), "default", role)

    bot_gateway.ensure_rbac(pods_read_grant("drift222", alice))

    assert _can_list_pods(kube_env, alice.username, expect=True)
    assert not kube_env.settled_can(alice.username, [], "get", "secrets", "default", expect=False)
    api_client.close()


def test_a_burst_of_grants_of_one_profile_reads_its_role_once(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str]
) -> None:
    cfg = api_client_from_kubeconfig(kube_env.bot_kubeconfig).configuration
    counting = CountingApiClient(cfg)
    gateway = KubernetesClusterGateway(counting)
    people = [principal(f"burst-{n}") for n in range(5)]
    for n, who in enumerate(people):
        gateway.ensure_rbac(pods_read_grant(f"burst00{n}", who))
    role_path = (
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/{role_name('pods-read')}"
    )
    role_reads = [c for c in counting.calls if c[0] == "GET" and c[1].endswith(role_path)]
    assert len(role_reads) == 1  # the first grant checks it; the next four find it fresh
    assert [c[0] for c in counting.calls if "rolebindings" in c[1]] == ["POST"] * 5
    for who in people:
        assert _can_list_pods(kube_env, who.username, expect=True)
    counting.close()


def test_foreign_objects_under_the_bots_names_are_never_touched(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    rbac = _rbac(kube_env)
    foreign_labels = {TEST_OBJECT_LABEL: "foreign"}
    rbac.create_namespaced_role_binding(
        "default",
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="eks-access-frgn2222", labels=foreign_labels),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="edit"
            ),
            subjects=[client.RbacV1Subject(kind="Group", name="payments-oncall")],
        ),
    )
    rbac.create_namespaced_role(
        "payments",
        client.V1Role(
            metadata=client.V1ObjectMeta(name=role_name("pods-read"), labels=foreign_labels),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get"])],
        ),
    )
    binding_version = meta(_binding(kube_env, "default", "eks-access-frgn2222")).resource_version

    with pytest.raises(PermanentError, match="not created by eks-access"):
        bot_gateway.ensure_rbac(pods_read_grant("frgn2222", principal("dev-alice")))
    with pytest.raises(PermanentError, match="not created by eks-access"):
        bot_gateway.delete_rbac("frgn2222", "default")
    with pytest.raises(PermanentError, match=r"Role payments/eks-access-pods-read"):
        bot_gateway.ensure_rbac(pods_read_grant("other222", principal("dev-alice"), "payments"))

    after = _binding(kube_env, "default", "eks-access-frgn2222")
    assert meta(after).resource_version == binding_version
    assert after.subjects and after.subjects[0].name == "payments-oncall"
    rules = rbac.read_namespaced_role(role_name("pods-read"), "payments").rules
    assert rules and rules[0].verbs == ["get"]


def test_owned_state_lists_exactly_the_bots_objects_with_one_call_per_namespace(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice, bob = principal("dev-alice"), principal("bob", kind="user")
    for who in (alice, bob):
        bot_gateway.ensure_mapping(Identity(who))
    for grant_id in ("own22222", "own33333"):
        bot_gateway.ensure_rbac(pods_read_grant(grant_id, alice))
    bot_gateway.ensure_rbac(view_grant("own44444", bob, "payments"))
    _rbac(kube_env).create_namespaced_role_binding(
        "default",
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="team-view", labels={TEST_OBJECT_LABEL: "foreign"}),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"
            ),
            subjects=[client.RbacV1Subject(kind="Group", name="team")],
        ),
    )
    base = api_client_from_kubeconfig(kube_env.bot_kubeconfig)
    counting = CountingApiClient(base.configuration)

    state = KubernetesClusterGateway(counting).owned_state({"default", "payments"})

    assert state == OwnedClusterState(
        bindings={"default": {"own22222", "own33333"}, "payments": {"own44444"}},
        mapped_arns={alice.arn, bob.arn},
    )
    assert sorted(counting.calls) == [
        ("GET", f"{kube_env.url}/api/v1/namespaces/kube-system/configmaps/aws-auth"),
        *(
            (
                "GET",
                f"{kube_env.url}/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            )
            for ns in ("default", "payments")
        ),
    ]
    counting.close()
    base.close()


def test_bot_cannot_hand_out_what_its_rbac_does_not_name(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway
) -> None:
    alice = principal("dev-alice")
    cluster_admin = pods_read_grant(
        "esc22222", alice, role_ref_kind="ClusterRole", role_ref_name="cluster-admin", rules=()
    )
    secrets_profile = pods_read_grant(
        "esc33333",
        alice,
        profile="secrets-read",
        role_ref_name=role_name("secrets-read"),
        rules=(PolicyRule(api_groups=("",), resources=("secrets",), verbs=("get",)),),
    )

    with pytest.raises(PermanentError, match="403"):
        bot_gateway.ensure_rbac(cluster_admin)
    with pytest.raises(PermanentError, match="403"):
        bot_gateway.ensure_rbac(secrets_profile)
    with pytest.raises(PermanentError, match="403"):
        bot_gateway.ensure_rbac(pods_read_grant("esc44444", alice, namespace="kube-system"))

    assert not kube_env.can(alice.username, [], "get", "secrets", "default")
    assert not kube_env.can(alice.username, [], "list", "pods", "kube-system")


def test_owned_bindings_are_listed_in_pages(
    kube_env: KubeEnv, bot_gateway: KubernetesClusterGateway, aws_auth_reset: dict[str, str]
) -> None:
    from bot.adapters.kubernetes.rbac import RbacStore
    from bot.adapters.kubernetes.retry import ConflictBackoff

    alice = principal("dev-alice")
    ids = {f"page{n:04d}" for n in range(7)}
    for grant_id in ids:
        bot_gateway.ensure_rbac(pods_read_grant(grant_id, alice))
    store = RbacStore(kube_env.bot_api_client(), backoff=ConflictBackoff())
    assert store.owned_binding_ids("default", page_size=2) == ids
    assert bot_gateway.owned_state({"default", "payments"}).bindings == {
        "default": ids,
        "payments": set(),
    }
