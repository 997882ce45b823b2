"""`eks-access plan grant …`: the exact changes a grant would make, touching nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.commands import Command, GrantCommand
from bot.domain.durations import format_duration
from bot.domain.errors import Rejected
from bot.domain.grants import Grant, GrantStatus
from bot.domain.manifests import role_binding_manifest, role_manifest
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import Policy, group_ids, names_member
from bot.domain.principals import Principal
from bot.services.request_access import check_request

PLACEHOLDER_ID = "planned0"


def plan_grant(policy: Policy, *, user: str, command: Command, now: datetime) -> dict[str, Any]:
    if not isinstance(command, GrantCommand):
        raise Rejected("Only `grant` can be planned.")
    unchecked_groups: list[str] = []

    def is_member(u: str, members: tuple[str, ...]) -> bool:
        # Slack user-group membership is only known to Slack: assume it, and say so.
        if names_member(members, u, frozenset()):
            return True
        unchecked_groups.extend(group_ids(members))
        return bool(group_ids(members))

    checked = check_request(policy, user, command, is_member)
    principal = Principal.parse(checked.principal_arn)
    grant = Grant(
        id=PLACEHOLDER_ID,
        requester=user,
        principal_arn=principal.arn,
        profile=checked.profile.name,
        cluster=checked.cluster.name,
        namespace=checked.namespace,
        duration=command.duration,
        reason=command.reason,
        status=GrantStatus.PENDING,
        created_at=now,
        pending_until=now + checked.profile.pending_timeout,
    )
    rbac = rbac_for_grant(grant, checked.profile, principal.username, now + command.duration)
    key, arn_key = ("mapUsers", "userarn") if principal.kind == "user" else ("mapRoles", "rolearn")
    plan: dict[str, Any] = {
        "cluster": checked.cluster.name,
        "namespace": checked.namespace,
        "duration": format_duration(command.duration),
        "aws-auth": {
            "configmap": "kube-system/aws-auth",
            "key": key,
            "add_entry_unless_mapped": {
                arn_key: principal.mapping_arn,
                "username": principal.username,
                "groups": [],
            },
            "note": "entries the bot did not create are never modified; if the principal is "
            "already mapped, its existing username is bound instead",
        },
        "rbac": [m for m in (role_manifest(rbac), role_binding_manifest(rbac)) if m],
    }
    if unchecked_groups:
        plan["assumed_group_membership"] = sorted(set(unchecked_groups))
    return plan
