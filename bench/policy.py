"""The bench's policy (one cluster, one profile, its people) and what the bot derives from it.

Usernames, the profile's rules, Role and RoleBinding shapes all come from the bot's own code
(`bot.policy_file`, `bot.domain.principals`, `bot.domain.plan`, `bot.domain.manifests`), so
the bench never holds a second copy of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.domain.grants import Grant, GrantStatus, MappedVia
from bot.domain.manifests import role_binding_manifest, role_manifest
from bot.domain.plan import rbac_for_grant
from bot.domain.policy import Profile
from bot.domain.principals import OWNED_USERNAME_PREFIX, Identity
from bot.policy_file import parse_policy
from tests.support.kube import TEST_OBJECT_LABEL

ACCOUNT = "111122223333"
APPROVER = "U0APPROVER"
APPROVAL_CHANNEL = "C0APPROVALS"
ACK_USER = "U0ACK"
#: Row 1's user only lists; row 4 asks for one grant with it as its warm-up.
ACK_ARN = f"arn:aws:iam::{ACCOUNT}:user/ack-user"
PROFILE = "pods-read"
CLUSTER = "dev"
#: The username prefix of the floors' identities, in place of the bot's own.
FLOOR_PREFIX = "bench-floor:"


def latency_user(i: int) -> tuple[str, str]:
    """The Slack user and IAM user ARN of row 2's i-th sample."""
    return f"U0L{i:03d}", f"arn:aws:iam::{ACCOUNT}:user/lat-{i:03d}"


def storm_user(i: int) -> tuple[str, str]:
    """The Slack user and IAM user ARN of row 4's i-th requester."""
    return f"U0B{i:03d}", f"arn:aws:iam::{ACCOUNT}:user/bench-b{i:03d}"


def owned_username(arn: str) -> str:
    """The Kubernetes username the bot gives an IAM user or role in its own entries."""
    return Identity.parse(arn).owned_username


def floor_username(arn: str) -> str:
    """The bot's username for `arn` under a prefix it does not own: a floor's objects and
    entries then look like the bot's, but its reconcile never takes them for its own."""
    return FLOOR_PREFIX + owned_username(arn).removeprefix(OWNED_USERNAME_PREFIX)


def document(kubeconfig: str, *, latency_users: int, storm_users: int) -> dict[str, Any]:
    """The policy file the bench's bots read, as a mapping."""
    identities = {ACK_USER: ACK_ARN}
    identities.update(latency_user(i) for i in range(latency_users))
    identities.update(storm_user(i) for i in range(storm_users))
    return {
        "slack": {"approval_channel": APPROVAL_CHANNEL, "alert_channel": "C0ALERTS"},
        "clusters": [{"name": CLUSTER, "kubeconfig": kubeconfig, "default": True}],
        "identities": identities,
        "defaults": {"min_duration": "10s", "max_duration": "8h", "pending_timeout": "4h"},
        "profiles": {
            PROFILE: {
                "description": "Read pods and their logs",
                "namespaces": ["default", "payments"],
                "rules": [
                    {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}
                ],
                "requesters": ["*"],
                "approvers": [APPROVER],
            }
        },
    }


def profile(kubeconfig: str) -> Profile:
    """The bench's profile as the bot reads it from the policy file."""
    return parse_policy(document(kubeconfig, latency_users=0, storm_users=0)).profiles[PROFILE]


def active_grant(
    *,
    grant_id: str,
    requester: str,
    arn: str,
    namespace: str,
    activated_at: datetime,
    expires_at: datetime,
    warned_at: datetime | None = None,
    username: str | None = None,
) -> Grant:
    """An active grant of the bench's profile as the bot holds it once activated: approved,
    its mapping and RBAC applied. `username`: the bot's own for `arn` unless given."""
    return Grant(
        id=grant_id,
        requester=requester,
        principal_arn=arn,
        profile=PROFILE,
        cluster=CLUSTER,
        namespace=namespace,
        duration=expires_at - activated_at,
        reason="seeded by bench",
        status=GrantStatus.ACTIVE,
        created_at=activated_at - timedelta(minutes=2),
        pending_until=activated_at + timedelta(hours=4),
        decided_by=APPROVER,
        decided_at=activated_at,
        activated_at=activated_at,
        expires_at=expires_at,
        warned_at=warned_at,
        k8s_username=username or owned_username(arn),
        mapped_via=MappedVia.AWS_AUTH,
        approval_channel=APPROVAL_CHANNEL,
        approval_ts="1700000000.000100",
    )


def role_and_binding(grant: Grant, rbac_profile: Profile) -> tuple[dict[str, Any], dict[str, Any]]:
    """The profile Role and the grant's RoleBinding, as the bot writes them."""
    assert grant.k8s_username is not None and grant.expires_at is not None
    rbac = rbac_for_grant(grant, rbac_profile, grant.k8s_username, grant.expires_at)
    role = role_manifest(rbac)
    assert role is not None, "the bench's profile has rules, so a Role of its own"
    return role, role_binding_manifest(rbac)


def floor_objects(
    rbac_profile: Profile, *, namespace: str, username: str, binding: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a floor (the same calls made directly) creates for `username`: the bot's profile
    Role, and the bot's RoleBinding renamed `binding` and labelled only as a test fixture, so
    the bot's reconcile never takes it for its own and `aws_auth_reset` removes it."""
    grant = active_grant(
        grant_id="floor",
        requester="floor",
        arn=f"arn:aws:iam::{ACCOUNT}:user/floor",
        namespace=namespace,
        activated_at=now,
        expires_at=now + timedelta(hours=1),
        username=username,
    )
    role, bound = role_and_binding(grant, rbac_profile)
    bound["metadata"] = {"name": binding, "labels": {TEST_OBJECT_LABEL: "true"}}
    return role, bound
