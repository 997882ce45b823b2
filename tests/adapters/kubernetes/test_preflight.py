"""`eks-access check-config --check-clusters` against the real apiserver, run as the command.

The bot's identities here are bound to RBAC generated from the policy (or that RBAC with one
verb taken out); the apiserver's own authorizer answers the SelfSubjectAccessReviews. The
access-entry cluster's AWS side is the EKS emulator, which records every call it gets.
"""

from __future__ import annotations

import copy
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.adapters.kubernetes.connection import api_client_from_kubeconfig
from bot.adapters.kubernetes.permissions import Access, policy_permissions_manifest
from bot.adapters.kubernetes.preflight import review_access
from bot.policy_file import parse_policy
from tests.adapters.test_cli import run
from tests.support.envtest import apply_manifest, free_port
from tests.support.kube import RBAC, TEST_OBJECT_LABEL, KubeEnv

# What the policy below needs of the bot on an aws-auth cluster: get and update on aws-auth,
# and in each of its two namespaces 5 verbs on rolebindings, create on roles, 4 verbs on the
# profile Role and bind on the ClusterRole `view`.
AWS_AUTH_NEEDS = 2 + 2 * (5 + 1 + 4 + 1)
ACCESS_ENTRY_NEEDS = AWS_AUTH_NEEDS - 2  # no aws-auth
ACCOUNT = "123456789012"  # moto's, which the emulator gives the test credentials


def policy_doc(*clusters: dict[str, Any]) -> dict[str, Any]:
    return {
        "slack": {"approval_channel": "C0APPROVALS"},
        "clusters": list(clusters),
        "identities": {"U0ALICE": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        "profiles": {
            "pods-read": {
                "namespaces": ["default", "payments"],
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
                "requesters": ["*"],
                "approvers": ["U0CAROL"],
            },
            "payments-view": {
                "namespaces": ["payments"],
                "cluster_role": "view",
                "requesters": ["*"],
                "approvers": ["U0CAROL"],
            },
        },
    }


def write_policy(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def check_clusters(tmp_path: Path, *clusters: dict[str, Any], **env: str) -> Any:
    return run(
        "check-config",
        "--check-clusters",
        policy=write_policy(tmp_path, policy_doc(*clusters)),
        **env,
    )


def access_entry_cluster(kube_env: KubeEnv) -> dict[str, Any]:
    """Kubernetes through the bot's kubeconfig, AWS calls to the emulator's `prod-eks`."""
    return {
        "name": "prod",
        "kubeconfig": kube_env.bot_kubeconfig,
        "eks": {"name": "prod-eks", "region": "eu-west-1"},
    }


@pytest.mark.kube
def test_every_cluster_answers_ok_with_the_generated_rbac(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], tmp_path: Path, moto_server, fresh_eks
) -> None:
    fresh_eks.add_cluster("prod-eks", region="eu-west-1", account=ACCOUNT, mode="API")
    result = check_clusters(
        tmp_path,
        {"name": "dev", "kubeconfig": kube_env.bot_kubeconfig},
        access_entry_cluster(kube_env),
        AWS_ENDPOINT_URL=moto_server.url,
        AWS_ENDPOINT_URL_EKS=fresh_eks.url,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    dev, prod, aws = result.stdout.splitlines()[1:]
    assert dev.startswith("  - cluster dev: answers (Kubernetes v1.")
    assert dev.endswith(
        f"identities are mapped through aws-auth; the bot may make all {AWS_AUTH_NEEDS} "
        "requests the policy needs"
    )
    assert prod.endswith(
        "authentication mode API, identities are mapped through access-entries; the bot may "
        f"make all {ACCESS_ENTRY_NEEDS} requests the policy needs"
    )
    assert aws == (
        "      AWS: answered eks:DescribeCluster, eks:ListAccessEntries, eks:DescribeAccessEntry; "
        "not tried, as they change the cluster: eks:CreateAccessEntry, eks:DeleteAccessEntry, "
        "eks:TagResource (`eks-access iam-policy` prints what they need)"
    )
    # Reads only, and of the entry a grant of alice would read.
    assert [(c.operation, c.principal_arn) for c in fresh_eks.calls] == [
        ("DescribeCluster", None),
        ("ListAccessEntries", None),
        ("DescribeAccessEntry", f"arn:aws:iam::{ACCOUNT}:user/alice"),
    ]


@pytest.mark.kube
def test_an_aws_refusal_on_an_access_entry_cluster_is_reported(
    kube_env: KubeEnv, tmp_path: Path, moto_server, fresh_eks
) -> None:
    fresh_eks.add_cluster("prod-eks", region="eu-west-1", account=ACCOUNT, mode="API")
    fresh_eks.denied.add("DescribeAccessEntry")
    result = check_clusters(
        tmp_path,
        access_entry_cluster(kube_env),
        AWS_ENDPOINT_URL=moto_server.url,
        AWS_ENDPOINT_URL_EKS=fresh_eks.url,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "      The bot's AWS identity is not allowed to read the access entry of "
        f"arn:aws:iam::{ACCOUNT}:user/alice on EKS cluster 'prod-eks' in region eu-west-1 "
        "(AccessDeniedException: " in result.stdout
    )
    assert "      AWS: answered eks:DescribeCluster, eks:ListAccessEntries; not tried" in (
        result.stdout
    )


@pytest.mark.kube
def test_a_missing_aws_auth_fails_the_check(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], tmp_path: Path
) -> None:
    client.CoreV1Api(kube_env.admin_api_client()).delete_namespaced_config_map(
        "aws-auth", "kube-system"
    )
    result = check_clusters(tmp_path, {"name": "dev", "kubeconfig": kube_env.bot_kubeconfig})

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[2:] == [
        "      ConfigMap kube-system/aws-auth does not exist, so no IAM principal can be mapped "
        "and every grant would fail. EKS creates it with the first node group; the bot never "
        "does."
    ]


# -- one verb missing: named, and the command fails --------------------------------------------


@pytest.fixture
def bound_to(kube_env: KubeEnv, aws_auth_reset: dict[str, str]) -> Iterator[Any]:
    """`bind(user, drop)`: the policy's generated RBAC, bound to `user`, minus one verb."""
    admin = kube_env.admin_api_client()
    applied: list[dict[str, Any]] = []

    def bind(user: str, drop: tuple[str, str, str]) -> str:
        namespace, resource, verb = drop
        manifest = policy_permissions_manifest(
            parse_policy(policy_doc({"name": "dev", "kubeconfig": "/unused"})),
            subject={"kind": "User", "name": user, "apiGroup": RBAC},
        )
        # One copy each: the namespaces' Roles share their rule lists (and deepcopy keeps that).
        docs = [copy.deepcopy(doc) for doc in manifest]
        for doc in docs:
            meta = doc["metadata"]
            meta["name"] = f"{meta['name']}-{user}"
            meta["labels"][TEST_OBJECT_LABEL] = "preflight"
            if doc["kind"] == "RoleBinding":
                doc["roleRef"]["name"] = meta["name"]
            elif meta["namespace"] == namespace:
                for rule in doc["rules"]:
                    if rule["resources"] == [resource]:
                        rule["verbs"] = [v for v in rule["verbs"] if v != verb]
                doc["rules"] = [r for r in doc["rules"] if r["verbs"]]
        apply_manifest(admin, docs)
        applied.extend(docs)
        # The authorizer catches up in order: once the last binding counts, all of it does.
        assert kube_env.settled_can(user, [], "create", "roles", "payments", RBAC, expect=True)
        return kube_env.kubeconfig_for(user)

    yield bind
    rbac = client.RbacAuthorizationV1Api(admin)
    for doc in applied:
        meta = doc["metadata"]
        if doc["kind"] == "Role":
            rbac.delete_namespaced_role(meta["name"], meta["namespace"])
        else:
            rbac.delete_namespaced_role_binding(meta["name"], meta["namespace"])


@pytest.mark.kube
@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (("kube-system", "configmaps", "update"), "update configmaps/aws-auth in kube-system"),
        (
            ("payments", "roles", "bind"),
            "bind roles.rbac.authorization.k8s.io/eks-access-pods-read in payments",
        ),
        (
            ("default", "rolebindings", "delete"),
            "delete rolebindings.rbac.authorization.k8s.io in default",
        ),
    ],
    ids=["aws-auth-update", "bind-profile-role", "delete-bindings"],
)
def test_a_missing_verb_is_named_and_fails_the_check(
    kube_env: KubeEnv, tmp_path: Path, bound_to: Any, drop: tuple[str, str, str], named: str
) -> None:
    kubeconfig = bound_to(f"preflight-no-{drop[2]}-{drop[1]}", drop)
    result = check_clusters(tmp_path, {"name": "dev", "kubeconfig": kubeconfig})

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[1:] == [
        result.stdout.splitlines()[1].split("; the bot may")[0]
        + f"; the bot may not make 1 of the {AWS_AUTH_NEEDS} requests the policy needs:",
        f"      {named}",
        "      (`eks-access permissions | kubectl apply -f -` grants them)",
    ]


# -- clusters that do not answer, or refuse the bot -------------------------------------------


@pytest.mark.kube
def test_each_cluster_is_reported_on_its_own_within_a_bounded_time(
    kube_env: KubeEnv, aws_auth_reset: dict[str, str], tmp_path: Path
) -> None:
    closed = tmp_path / "closed.yaml"
    config = yaml.safe_load(Path(kube_env.bot_kubeconfig).read_text())
    port = free_port()  # nothing listens there
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    closed.write_text(yaml.safe_dump(config))
    stranger = kube_env.envtest.bearer_token_kubeconfig("stranger", "not-a-known-token")

    started = time.monotonic()
    result = check_clusters(
        tmp_path,
        {"name": "closed", "kubeconfig": str(closed)},
        {"name": "stranger", "kubeconfig": str(stranger)},
        {"name": "dev", "kubeconfig": kube_env.bot_kubeconfig},
    )
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.stdout + result.stderr
    closed_line, stranger_line, dev_line = result.stdout.splitlines()[1:]
    assert closed_line == (
        f"  - cluster closed: does not answer. Could not reach https://127.0.0.1:{port}: the "
        "Kubernetes API is unreachable (connection refused or no route)"
    )
    assert stranger_line == (
        "  - cluster stranger: answers, but the bot cannot check its permissions. "
        f"{kube_env.url} does not accept the bot's credentials (401 Unauthorized)."
    )
    assert f"the bot may make all {AWS_AUTH_NEEDS} requests" in dev_line
    assert elapsed < 15, elapsed
    assert "Traceback" not in result.stderr


def test_a_silent_cluster_costs_one_timeout(tmp_path: Path) -> None:
    """A server that takes the connection and never speaks: one timeout, no retries."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nothing is ever read or sent
        kubeconfig = tmp_path / "silent.yaml"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "clusters": [
                        {
                            "name": "c",
                            "cluster": {
                                "server": f"https://127.0.0.1:{silent.getsockname()[1]}",
                                "insecure-skip-tls-verify": True,
                            },
                        }
                    ],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "c",
                }
            )
        )
        with api_client_from_kubeconfig(str(kubeconfig)) as api:
            started = time.monotonic()
            report = review_access(
                api, [Access("get", "", "configmaps", "kube-system")], timeout=(0.5, 0.5)
            )
            elapsed = time.monotonic() - started

    assert not report.answered and report.version is None
    assert report.problem is not None and "Could not reach https://127.0.0.1:" in report.problem
    assert "timed out" in report.problem or "did not answer in time" in report.problem
    assert elapsed < 1.5, elapsed


def test_a_missing_kubeconfig_is_named_before_any_cluster_is_asked(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "kubeconfig"
    result = check_clusters(tmp_path, {"name": "dev", "kubeconfig": str(missing)})

    assert result.returncode == 2 and result.stdout == ""
    assert f"clusters[0].kubeconfig: {missing} does not exist" in result.stderr
