"""The least-privilege IAM policies the bot needs for the EKS clusters of a policy file.

Pure: builds documents, calls nothing. `bot_iam_policy` is for the bot's own identity; a
cluster reached through `assume_role` needs its EKS permissions on that role instead
(`assumed_role_iam_policy`), because EKS has no resource policies: a role in the cluster's own
account is the only way across accounts. Resource and condition names follow the EKS Service
Authorization Reference; docs/iam-policy.md says why each action is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from bot.domain.rbac import ACCESS_ENTRY_OWNER_TAG, MANAGED_BY_VALUE


class EksClusterRef(NamedTuple):
    """One EKS cluster as the policy file names it; a plain 4-tuple works as well."""

    region: str
    #: None: the account of whoever calls (the role's for `assume_role`, else the bot's).
    account: str | None
    name: str
    assume_role: str | None = None


#: What deploy/aws/iam-policy.json is generated from: a cluster in the bot's account and one
#: reached through a role in another account.
PLACEHOLDER_CLUSTERS = (
    EksClusterRef("REGION", "ACCOUNT_ID", "CLUSTER_NAME"),
    EksClusterRef(
        "REGION",
        "OTHER_ACCOUNT_ID",
        "OTHER_CLUSTER_NAME",
        "arn:aws:iam::OTHER_ACCOUNT_ID:role/ROLE_NAME",
    ),
)


def bot_iam_policy(
    clusters: Iterable[tuple[str, str | None, str, str | None]], *, check_config: bool = True
) -> dict[str, Any]:
    """The identity policy of the bot's own principal (IRSA role, Pod Identity role, user).

    `check_config` adds the IAM reads `eks-access check-config --check-aws` makes to say
    whether the principals in the policy file exist; the bot runs without them.
    """
    refs = [EksClusterRef(*c) for c in clusters]
    statements = _eks_statements([c for c in refs if c.assume_role is None])
    roles = sorted({c.assume_role for c in refs if c.assume_role is not None})
    if roles:
        statements.append(_statement("AssumeClusterRoles", ["sts:AssumeRole"], roles))
    if check_config:
        partitions = sorted({_partition(c.region) for c in refs} or {"aws"})
        principals = [f"arn:{p}:iam::*:{kind}/*" for p in partitions for kind in ("role", "user")]
        statements.append(
            _statement("CheckConfigLooksUpPrincipals", ["iam:GetRole", "iam:GetUser"], principals)
        )
    return _document(statements)


def assumed_role_iam_policy(
    clusters: Iterable[tuple[str, str | None, str, str | None]], role_arn: str
) -> dict[str, Any]:
    """The identity policy of `role_arn`: EKS permissions on the clusters reached through it."""
    account = role_arn.split(":")[4]
    refs = [
        EksClusterRef(c.region, c.account or account, c.name, c.assume_role)
        for c in (EksClusterRef(*c) for c in clusters)
        if c.assume_role == role_arn
    ]
    return _document(_eks_statements(refs))


def policy_json(document: dict[str, Any]) -> str:
    """The text of a document as shipped in deploy/aws/iam-policy.json."""
    return json.dumps(document, indent=2) + "\n"


def _eks_statements(clusters: list[EksClusterRef]) -> list[dict[str, Any]]:
    if not clusters:
        return []
    arns = [_cluster_arn(c) for c in clusters]
    entries = [f"{arn.replace(':cluster/', ':access-entry/', 1)}/*" for arn in arns]
    owned_request = {"StringEquals": {f"aws:RequestTag/{ACCESS_ENTRY_OWNER_TAG}": MANAGED_BY_VALUE}}
    owned_entry = {"StringEquals": {f"aws:ResourceTag/{ACCESS_ENTRY_OWNER_TAG}": MANAGED_BY_VALUE}}
    return [
        _statement("ReadClusters", ["eks:DescribeCluster", "eks:ListAccessEntries"], arns),
        _statement("ReadAccessEntries", ["eks:DescribeAccessEntry"], entries),
        _statement("CreateOwnedAccessEntries", ["eks:CreateAccessEntry"], arns, owned_request),
        # CreateAccessEntry with `tags` is also authorised as eks:TagResource on the new entry.
        _statement("TagAccessEntriesOnCreate", ["eks:TagResource"], entries, owned_request),
        _statement("DeleteOwnedAccessEntries", ["eks:DeleteAccessEntry"], entries, owned_entry),
    ]


def _statement(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": sorted(set(resources)),
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    if not statements:
        raise ValueError("no EKS cluster and nothing else to allow: IAM refuses an empty policy")
    return {"Version": "2012-10-17", "Statement": statements}


def _cluster_arn(c: EksClusterRef) -> str:
    # EKS calls only ever reach the caller's own account, so "*" there means exactly that.
    return f"arn:{_partition(c.region)}:eks:{c.region}:{c.account or '*'}:cluster/{c.name}"


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
