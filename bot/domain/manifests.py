"""The Kubernetes objects of a grant as plain manifests (shown by `eks-access plan`)."""

from __future__ import annotations

from typing import Any

from bot.domain.rbac import (
    EXPIRES_ANNOTATION,
    GRANT_ID_ANNOTATION,
    GRANT_ID_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    PROFILE_LABEL,
    REQUESTER_ANNOTATION,
    RbacGrant,
    role_name,
)

RBAC_API = "rbac.authorization.k8s.io"


def role_manifest(rbac: RbacGrant) -> dict[str, Any] | None:
    if rbac.role_ref_kind != "Role":
        return None
    rules = []
    for r in rbac.rules:
        rule: dict[str, Any] = {
            "apiGroups": list(r.api_groups),
            "resources": list(r.resources),
            "verbs": list(r.verbs),
        }
        if r.resource_names:
            rule["resourceNames"] = list(r.resource_names)
        rules.append(rule)
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "Role",
        "metadata": {
            "name": role_name(rbac.profile),
            "namespace": rbac.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE, PROFILE_LABEL: rbac.profile},
        },
        "rules": rules,
    }


def role_binding_manifest(rbac: RbacGrant) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_API}/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": rbac.binding_name,
            "namespace": rbac.namespace,
            "labels": {
                MANAGED_BY_LABEL: MANAGED_BY_VALUE,
                GRANT_ID_LABEL: rbac.grant_id,
                PROFILE_LABEL: rbac.profile,
            },
            "annotations": {
                GRANT_ID_ANNOTATION: rbac.grant_id,
                EXPIRES_ANNOTATION: rbac.expires_at.isoformat(),
                REQUESTER_ANNOTATION: rbac.requester,
            },
        },
        "roleRef": {"apiGroup": RBAC_API, "kind": rbac.role_ref_kind, "name": rbac.role_ref_name},
        "subjects": [{"apiGroup": RBAC_API, "kind": "User", "name": rbac.subject_user}],
    }
