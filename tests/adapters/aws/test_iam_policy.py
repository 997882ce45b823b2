"""The generated IAM policies, checked against rules that are not the generator's own.

Action names against botocore's service models, documents against moto's copy of IAM's
MalformedPolicyDocument checks (and IAM's Sid and ARN syntax), resources against the ARN formats of the EKS Service
Authorization Reference, and the AssumeRole statement against moto's policy evaluation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from bot.adapters.aws.iam_policy import (
    PLACEHOLDER_CLUSTERS,
    EksClusterRef,
    assumed_role_iam_policy,
    bot_iam_policy,
    policy_json,
)
from bot.adapters.aws.sessions import AssumeRoleDenied, aws_session
from tests.support.aws import MotoServer

SHIPPED = Path(__file__).parents[3] / "deploy" / "aws" / "iam-policy.json"
ROLE_B = "arn:aws:iam::210987654321:role/eks-access-bot"
CLUSTERS = [
    EksClusterRef("eu-west-1", "123456789012", "team-a"),
    EksClusterRef("eu-west-1", None, "team-b", ROLE_B),
    EksClusterRef("eu-central-1", None, "team-c", ROLE_B),
]

# From the EKS Service Authorization Reference (resource types table).
CLUSTER_ARN = "arn:{partition}:eks:{region}:{account}:cluster/{name}"
ACCESS_ENTRY_ARN = (
    "arn:{partition}:eks:{region}:{account}:access-entry/{name}/{identity_type}/"
    "{identity_account}/{identity_name}/{uuid}"
)


def _documents() -> list[dict[str, Any]]:
    return [
        bot_iam_policy(PLACEHOLDER_CLUSTERS),
        bot_iam_policy(CLUSTERS),
        bot_iam_policy(CLUSTERS, check_config=False),
        assumed_role_iam_policy(CLUSTERS, ROLE_B),
        bot_iam_policy([("cn-north-1", None, "team-cn", None)]),
    ]


def _iam_matches(pattern: str, value: str) -> bool:
    """IAM's wildcards: `*` any run of characters (slashes included), `?` any one."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value) is not None


def _allows(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether some statement names `action` and a resource pattern covering `resource`."""
    return any(
        action in s["Action"] and any(_iam_matches(r, resource) for r in s["Resource"])
        for s in document["Statement"]
    )


def test_the_shipped_file_is_the_generator_s_output_for_the_placeholder_clusters() -> None:
    assert SHIPPED.read_text() == policy_json(bot_iam_policy(PLACEHOLDER_CLUSTERS)), (
        "regenerate: python -c 'from bot.adapters.aws.iam_policy import *; "
        'print(policy_json(bot_iam_policy(PLACEHOLDER_CLUSTERS)), end="")\' '
        "> deploy/aws/iam-policy.json"
    )


@pytest.mark.parametrize("document", _documents())
def test_documents_have_the_structure_iam_requires(document: dict[str, Any]) -> None:
    assert set(document) == {"Version", "Statement"}
    assert document["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in document["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in document["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])  # IAM allows nothing else
        assert statement["Effect"] == "Allow"
        assert statement["Action"] and statement["Resource"]
        for action in statement["Action"]:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action  # no wildcard
        for resource in statement["Resource"]:
            # arn:partition:service:region:account:resource, the region empty for IAM
            assert re.fullmatch(r"arn:aws(-cn|-us-gov)?:(eks|iam):[^:]*:[^:]+:.+", resource)


@pytest.mark.parametrize("document", _documents())
def test_every_action_is_an_operation_of_the_aws_api(document: dict[str, Any]) -> None:
    botocore_session = botocore.session.get_session()
    for action in (a for s in document["Statement"] for a in s["Action"]):
        service, operation = action.split(":")
        assert operation in botocore_session.get_service_model(service).operation_names, action


@pytest.mark.parametrize("document", _documents())
def test_iam_accepts_the_documents(fresh_moto: MotoServer, document: dict[str, Any]) -> None:
    # moto runs IAM's MalformedPolicyDocument checks of elements, version, effect, action
    # prefixes and condition operators (not of Sid characters or ARN shapes: see above).
    fresh_moto.client("iam").create_policy(
        PolicyName="eks-access", PolicyDocument=json.dumps(document)
    )


def test_the_bot_s_policy_covers_its_own_clusters_and_the_entries_in_them_only() -> None:
    policy = bot_iam_policy(CLUSTERS)
    cluster = CLUSTER_ARN.format(
        partition="aws", region="eu-west-1", account="123456789012", name="team-a"
    )
    entry = ACCESS_ENTRY_ARN.format(
        partition="aws",
        region="eu-west-1",
        account="123456789012",
        name="team-a",
        identity_type="role",
        identity_account="123456789012",
        identity_name="dev",
        uuid="1ac6a5f4-4c47-2fa5-f5d1-2a9e4f2cf6b3",
    )

    for action in ("eks:DescribeCluster", "eks:ListAccessEntries", "eks:CreateAccessEntry"):
        assert _allows(policy, action, cluster)
        assert not _allows(policy, action, cluster + "-old")
        assert not _allows(policy, action, entry)
    for action in ("eks:DescribeAccessEntry", "eks:DeleteAccessEntry", "eks:TagResource"):
        assert _allows(policy, action, entry)
        assert not _allows(policy, action, entry.replace("/team-a/", "/team-a-old/"))
        assert not _allows(policy, action, cluster)


def test_clusters_behind_a_role_need_eks_permissions_on_the_role_not_the_bot() -> None:
    bot = bot_iam_policy(CLUSTERS)
    role = assumed_role_iam_policy(CLUSTERS, ROLE_B)
    team_b = CLUSTER_ARN.format(
        partition="aws", region="eu-west-1", account="210987654321", name="team-b"
    )

    assert not _allows(bot, "eks:DescribeCluster", team_b)
    assert _allows(bot, "sts:AssumeRole", ROLE_B)
    assert _allows(role, "eks:DescribeCluster", team_b)
    assert _allows(
        role,
        "eks:DescribeCluster",
        CLUSTER_ARN.format(
            partition="aws", region="eu-central-1", account="210987654321", name="team-c"
        ),
    )
    assert not _allows(role, "eks:DescribeCluster", team_b.replace("210987654321", "123456789012"))
    assert not any(a.startswith(("sts:", "iam:")) for s in role["Statement"] for a in s["Action"])


def test_access_entries_are_created_and_deleted_only_with_the_bot_s_tag() -> None:
    statements = {s["Sid"]: s for s in bot_iam_policy(CLUSTERS)["Statement"]}

    for sid in ("CreateOwnedAccessEntries", "TagAccessEntriesOnCreate"):
        assert statements[sid]["Condition"] == {
            "StringEquals": {"aws:RequestTag/managed-by": "eks-access"}
        }
    assert statements["DeleteOwnedAccessEntries"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/managed-by": "eks-access"}
    }
    assert "Condition" not in statements["ReadAccessEntries"]  # foreign entries are read too


def test_china_regions_use_their_partition() -> None:
    policy = bot_iam_policy([("cn-north-1", None, "team-cn", None)])

    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert "arn:aws-cn:eks:cn-north-1:*:cluster/team-cn" in resources
    assert "arn:aws-cn:iam::*:role/*" in resources


def test_a_policy_with_nothing_to_allow_is_refused() -> None:
    with pytest.raises(ValueError, match="empty policy"):
        bot_iam_policy([], check_config=False)
    with pytest.raises(ValueError, match="empty policy"):
        assumed_role_iam_policy(CLUSTERS, "arn:aws:iam::210987654321:role/unused")


def test_under_iam_enforcement_the_bot_may_assume_the_named_role_and_no_other(
    fresh_moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", fresh_moto.url)
    iam = fresh_moto.client("iam")
    iam.create_user(UserName="bot")
    iam.put_user_policy(
        UserName="bot", PolicyName="bot", PolicyDocument=json.dumps(bot_iam_policy(CLUSTERS))
    )
    key = iam.create_access_key(UserName="bot")["AccessKey"]
    bot = fresh_moto.session(key["AccessKeyId"], key["SecretAccessKey"])
    fresh_moto.enforce_iam_policies()

    allowed = aws_session(assume_role=ROLE_B, base=bot).client("sts").get_caller_identity()
    assert allowed["Account"] == "210987654321"
    other = ROLE_B.replace("eks-access-bot", "admin")
    with pytest.raises(AssumeRoleDenied, match="not authorized to perform: sts:AssumeRole"):
        aws_session(assume_role=other, base=bot).client("sts").get_caller_identity()
