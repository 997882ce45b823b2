"""`eks-access plan grant …`: the exact changes a grant would make, touching nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.commands import Command, GrantCommand
from bot.domain.durations import format_duration
from bot.domain.manifests import role_binding_manifest, role_manifest
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import ClusterConfig, Policy, group_ids, names_member
from bot.domain.principals import Identity
from bot.domain.rbac import ACCESS_ENTRY_OWNER_TAG, MANAGED_BY_VALUE
from bot.domain.refusals import OnlyGrantPlanned
from bot.services.request_access import check_request

PLACEHOLDER_ID = "planned0"


def plan_grant(
    policy: Policy,
    *,
    user: str,
    command: Command,
    now: datetime,
    email: str | None = None,
) -> dict[str, Any]:
    """`email`: the requester's Slack email (a cluster's `sso_role` session name).

    Where the identity is mapped follows the cluster's `mapping`; for `auto` on an EKS
    cluster only its authentication mode decides, so both ways are shown.
    """
    if not isinstance(command, GrantCommand):
        raise OnlyGrantPlanned()
    unchecked_groups: list[str] = []

    def is_member(u: str, members: tuple[str, ...]) -> bool:
        # Slack user-group membership is only known to Slack: assume it, and say so.
        if names_member(members, u, frozenset()):
            return True
        unchecked_groups.extend(group_ids(members))
        return bool(group_ids(members))

    checked = check_request(policy, user, command, is_member, lambda _user: email)
    identity = checked.identity
    grant = checked.new_request(
        PLACEHOLDER_ID, user, command, now=now, pending_until=now + checked.profile.pending_timeout
    )
    rbac = rbac_for_grant(grant, checked.profile, identity.owned_username, now + command.duration)
    plan: dict[str, Any] = {
        "cluster": checked.cluster.name,
        "namespace": checked.namespace,
        "duration": format_duration(command.duration),
        "identity": _identity_plan(identity),
    }
    cluster = checked.cluster
    undecided = cluster.mapping == "auto" and cluster.is_eks
    if undecided or cluster.mapping_for(None) == "aws-auth":
        plan["aws-auth"] = _aws_auth_plan(identity)
    if undecided or cluster.mapping == "access-entries":
        plan["access-entry"] = _access_entry_plan(cluster, identity)
    if undecided:
        plan["mapping"] = (
            "the cluster's authentication mode decides: access entries in API and "
            "API_AND_CONFIG_MAP, aws-auth in CONFIG_MAP"
        )
    plan["rbac"] = [m for m in (role_manifest(rbac), role_binding_manifest(rbac)) if m]
    if unchecked_groups:
        plan["assumed_group_membership"] = sorted(set(unchecked_groups))
    return plan


def _identity_plan(identity: Identity) -> dict[str, Any]:
    out: dict[str, Any] = {"principal": identity.principal.arn}
    if identity.session is not None:
        out["session"] = identity.session
    if identity.assumed_role_arn is not None:
        out["signs_in_as"] = identity.assumed_role_arn  # what STS reports for the session
    out["username_unless_already_mapped"] = identity.owned_username
    return out


def _aws_auth_plan(identity: Identity) -> dict[str, Any]:
    principal = identity.principal
    key, arn_key = ("mapUsers", "userarn") if principal.kind == "user" else ("mapRoles", "rolearn")
    return {
        "configmap": "kube-system/aws-auth",
        "key": key,
        "add_entry_unless_mapped": {
            arn_key: principal.mapping_arn,
            "username": identity.owned_username_template,
            "groups": [],
        },
        "note": "entries the bot did not create are never modified; if the principal is "
        "already mapped, the username that entry gives this person is bound instead",
    }


def _access_entry_plan(cluster: ClusterConfig, identity: Identity) -> dict[str, Any]:
    target = {"clusterName": cluster.eks_name, "principalArn": identity.principal.arn}
    return {
        "eks_cluster": f"{cluster.eks_name} ({cluster.eks_region})",
        "calls": [
            {"DescribeAccessEntry": target},
            {
                "CreateAccessEntry (unless an entry exists)": {
                    **target,
                    "username": identity.owned_username_template,
                    "type": "STANDARD",
                    "tags": {ACCESS_ENTRY_OWNER_TAG: MANAGED_BY_VALUE},
                }
            },
        ],
        "note": "an entry the bot did not create is never updated, deleted or given access "
        "policies; the username it gives this person is bound instead. The bot's entry is "
        "deleted with the last grant of this principal on the cluster",
    }
