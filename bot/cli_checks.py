"""`eks-access check-config`: the policy file, its kubeconfigs and, when asked, IAM and each
cluster (does it answer, may the bot do what the policy needs), one line per finding."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.domain.policy import Policy
from bot.policy_file import load_policy

if TYPE_CHECKING:
    from bot.adapters.preflight import ClusterCheck


def check_config(settings: Settings, args: argparse.Namespace) -> int:
    from bot.adapters.kubeconfigs import check_kubeconfigs

    policy = load_policy(settings.policy_path)
    check_kubeconfigs(policy)
    print(
        f"{settings.policy_path}: OK — {len(policy.profiles)} profile(s), "
        f"{len(policy.clusters)} cluster(s), {len(policy.identities)} identit(y/ies)"
    )
    failed = 0
    if args.check_aws:
        from bot.adapters.aws.identities import IamPrincipalChecker

        checker = IamPrincipalChecker()
        for user, identity in policy.identities.items():
            arn = identity.principal.arn
            exists = checker.exists(identity.principal)
            if exists is False:
                failed += 1
                print(f"  - identities.{user}: {arn} does not exist in IAM")
            elif exists is None:
                print(f"  - identities.{user}: could not check {arn} (no permission?)")
        if not args.check_clusters:  # which reports each cluster's mode itself
            failed += _report_clusters(policy)
    if args.check_clusters:
        failed += _preflight_clusters(policy)
    return 1 if failed else 0


def _report_clusters(policy: Policy) -> int:
    """One line per cluster: its authentication mode and where identities go; the failures."""
    from bot.adapters.clusters import cluster_facts
    from bot.domain.errors import EksAccessError

    failed = 0
    for cluster in policy.clusters:
        try:
            facts = cluster_facts(cluster)
        except EksAccessError as e:
            failed += 1
            print(f"  - cluster {cluster.name}: {e}")
            continue
        mode = facts.authentication_mode or (
            "not reported" if cluster.is_eks else "not an EKS cluster the bot asks"
        )
        print(
            f"  - cluster {cluster.name}: authentication mode {mode}; identities are mapped "
            f"through {facts.mapping}"
        )
    return failed


def _preflight_clusters(policy: Policy) -> int:
    """Per cluster: does it answer, may the bot do what the policy needs; the failures."""
    from bot.adapters.preflight import check_cluster
    from bot.domain.clock import SystemClock

    failed = 0
    for cluster in policy.clusters:
        check = check_cluster(policy, cluster, SystemClock())
        failed += not check.ok
        for line in _preflight_lines(check):
            print(line)
    return failed


def _preflight_lines(check: ClusterCheck) -> list[str]:
    head = f"  - cluster {check.cluster.name}: "
    access = check.access
    if access is None:
        return [f"{head}the bot cannot connect. {' '.join(check.problems)}"]
    if not access.answered:
        lines = [f"{head}does not answer. {access.problem}"]
    elif access.problem is not None:
        lines = [f"{head}answers, but the bot cannot check its permissions. {access.problem}"]
    else:
        mode = f"authentication mode {check.mode}, " if check.mode else ""
        head += f"answers (Kubernetes {access.version}); {mode}identities are mapped through "
        head += f"{check.mapping}; the bot may "
        if not access.missing:
            lines = [f"{head}make all {check.needed} requests the policy needs"]
        else:
            lines = [
                f"{head}not make {len(access.missing)} of the {check.needed} requests the "
                "policy needs:",
                *(f"      {a}" for a in access.missing),
                "      (`eks-access permissions | kubectl apply -f -` grants them)",
            ]
    if access.aws_auth_problem is not None:
        lines.append(f"      {access.aws_auth_problem}")
    lines += [f"      {problem}" for problem in check.problems]
    if check.aws_answered:
        aws = f"      AWS: answered {', '.join(check.aws_answered)}"
        if check.aws_not_tried:
            aws += (
                f"; not tried, as they change the cluster: {', '.join(check.aws_not_tried)} "
                "(`eks-access iam-policy` prints what they need)"
            )
        lines.append(aws)
    return lines
