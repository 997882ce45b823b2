"""What a grant needs in its cluster, derived from validated values only."""

from __future__ import annotations

from datetime import datetime

from bot.domain.grants import Grant
from bot.domain.policy import Profile
from bot.domain.rbac import RbacGrant, role_name


def rbac_for_grant(
    grant: Grant, profile: Profile, username: str, expires_at: datetime
) -> RbacGrant:
    return RbacGrant(
        grant_id=grant.id,
        profile=profile.name,
        namespace=grant.namespace,
        subject_user=username,
        role_ref_kind=profile.role_ref_kind,
        role_ref_name=profile.cluster_role or role_name(profile.name),
        rules=profile.rules,
        expires_at=expires_at,
        requester=grant.requester,
    )
