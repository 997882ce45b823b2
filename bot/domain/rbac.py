"""What one grant needs from Kubernetes RBAC, derived from validated policy values only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "eks-access"
GRANT_ID_LABEL = "eks-access/grant-id"
PROFILE_LABEL = "eks-access/profile"
GRANT_ID_ANNOTATION = "eks-access/grant-id"
EXPIRES_ANNOTATION = "eks-access/expires-at"
REQUESTER_ANNOTATION = "eks-access/requester"
#: The tag on the EKS access entries the bot creates (with MANAGED_BY_VALUE).
ACCESS_ENTRY_OWNER_TAG = "managed-by"


@dataclass(frozen=True)
class PolicyRule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RbacGrant:
    """The Role (unless an existing ClusterRole is referenced) and RoleBinding of one grant.

    The Role is shared by every grant of the same profile in a namespace; the RoleBinding is
    the grant's own, so deleting it ends exactly that grant.
    """

    grant_id: str
    profile: str
    namespace: str
    subject_user: str
    role_ref_kind: Literal["Role", "ClusterRole"]
    role_ref_name: str
    rules: tuple[PolicyRule, ...]
    expires_at: datetime
    requester: str

    @property
    def binding_name(self) -> str:
        return binding_name(self.grant_id)


def role_name(profile: str) -> str:
    return f"eks-access-{profile}"


def binding_name(grant_id: str) -> str:
    return f"eks-access-{grant_id}"
