"""`check-config --check-clusters`: each cluster asked, as the bot, whether it may do its job.

The bot connects exactly as it does for a grant (`clusters.open_connection`: the kubeconfig, or
EKS and a signed token). It then asks the cluster about every request its generated RBAC allows
(`policy_permissions_manifest`, which `eks-access permissions` prints), so what is checked and
what is granted are one list. For an EKS cluster it reports the AWS calls that answered on the
way; for access entries it makes the bot's reads too, but never a write: creating, tagging or
deleting an access entry would change the cluster, so those are named as not tried.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.adapters.clusters import open_connection
from bot.adapters.kubernetes.gateway import IdentityMapper
from bot.adapters.kubernetes.permissions import needed_access, policy_permissions_manifest
from bot.adapters.kubernetes.preflight import AccessReport, review_access
from bot.domain.errors import EksAccessError
from bot.domain.policy import ClusterConfig, Policy
from bot.domain.ports import Clock
from bot.domain.principals import Principal

#: What the bot asks EKS besides writes; the preflight makes these calls.
_READS = ("eks:DescribeCluster", "eks:ListAccessEntries", "eks:DescribeAccessEntry")


@dataclass(frozen=True)
class ClusterCheck:
    """What the preflight learnt about one cluster; the CLI words it."""

    cluster: ClusterConfig
    mode: str | None = None  # the EKS authentication mode, when EKS says
    mapping: str | None = None  # where identities go; None: the bot could not connect
    access: AccessReport | None = None  # None: the bot could not connect
    needed: int = 0  # how many requests the policy needs of the bot here
    problems: tuple[str, ...] = ()  # sentences: connecting, a refused mapping, an AWS refusal
    aws_answered: tuple[str, ...] = ()  # IAM actions made on the way, and answered
    aws_not_tried: tuple[str, ...] = ()  # IAM actions the bot needs that were not made

    @property
    def ok(self) -> bool:
        access = self.access
        return (
            not self.problems
            and access is not None
            and access.problem is None
            and not access.missing
            and access.aws_auth_problem is None
        )


def check_cluster(policy: Policy, cluster: ClusterConfig, clock: Clock) -> ClusterCheck:
    """Connect to `cluster` as the bot, and ask it about what `policy` needs there."""
    try:
        connection = open_connection(cluster, clock)
    except EksAccessError as e:
        return ClusterCheck(cluster, problems=(str(e),))
    try:
        problems = [str(connection.refused)] if connection.refused else []
        needs = needed_access(
            policy_permissions_manifest(
                policy, cluster=cluster.name, aws_auth=connection.mapping == "aws-auth"
            )
        )
        access = review_access(connection.api, needs)
        answered: tuple[str, ...] = ()
        if cluster.is_eks:
            answered = ("sts:AssumeRole",) if cluster.assume_role else ()
            answered += ("eks:DescribeCluster",)
        if connection.mapping == "access-entries":
            reads, refusal = _access_entry_reads(policy, cluster, connection.mapper)
            answered += reads
            problems += [str(refusal)] if refusal else []
        return ClusterCheck(
            cluster,
            mode=connection.mode,
            mapping=connection.mapping,
            access=access,
            needed=len(needs),
            problems=tuple(problems),
            aws_answered=answered,
            aws_not_tried=_writes(cluster) if connection.mapping == "access-entries" else (),
        )
    finally:
        connection.api.close()


def _access_entry_reads(
    policy: Policy, cluster: ClusterConfig, mapper: IdentityMapper | None
) -> tuple[tuple[str, ...], EksAccessError | None]:
    from bot.adapters.aws.access_entries import AccessEntryMapper

    assert isinstance(mapper, AccessEntryMapper)
    # An entry a grant would read: the first identity's (or the shared role's).
    principals = [i.principal for i in policy.identities.values()]
    if cluster.sso_role:
        principals.append(Principal.parse(cluster.sso_role))
    return mapper.check_reads(principals[0] if principals else None)


def _writes(cluster: ClusterConfig) -> tuple[str, ...]:
    """The EKS actions of the bot's IAM policy (`eks-access iam-policy`) that change things."""
    from bot.adapters.aws.iam_policy import bot_iam_policy

    assert cluster.eks_name and cluster.eks_region
    document = bot_iam_policy(
        [(cluster.eks_region, None, cluster.eks_name, None)], check_config=False
    )
    actions = {a for s in document["Statement"] for a in s["Action"]}
    return tuple(sorted(actions - set(_READS)))
