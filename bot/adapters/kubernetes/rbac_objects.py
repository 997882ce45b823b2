"""Reading the kubernetes client's Role and RoleBinding models: their metadata, and keys that
compare two objects' rules, role reference and subjects by content."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from bot.domain.rbac import MANAGED_BY_LABEL, MANAGED_BY_VALUE

RbacObject = client.V1Role | client.V1RoleBinding


def is_owned(obj: RbacObject) -> bool:
    return labels_of(obj).get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def key_of(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, sort_keys=True)


def meta_of(obj: RbacObject) -> client.V1ObjectMeta:
    # Objects read from the apiserver always have metadata; the models just type it Optional.
    if obj.metadata is None:
        obj.metadata = client.V1ObjectMeta()
    found: client.V1ObjectMeta = obj.metadata
    return found


def name_of(obj: RbacObject) -> tuple[str, str]:
    found = meta_of(obj)
    return str(found.name), str(found.namespace)


def labels_of(obj: RbacObject) -> dict[str, str]:
    return dict(meta_of(obj).labels or {})


def annotations_of(obj: RbacObject) -> dict[str, str]:
    return dict(meta_of(obj).annotations or {})


def rules_key(rules: list[client.V1PolicyRule] | None) -> list[tuple[tuple[str, ...], ...]]:
    return [
        (
            tuple(r.api_groups or ()),
            tuple(r.resources or ()),
            tuple(r.verbs or ()),
            tuple(r.resource_names or ()),
            tuple(r.non_resource_urls or ()),
        )
        for r in rules or []
    ]


def role_ref_key(ref: client.V1RoleRef | None) -> tuple[str, str, str]:
    return ("", "", "") if ref is None else (ref.api_group or "", ref.kind, ref.name)


def subjects_key(subjects: list[client.RbacV1Subject] | None) -> list[tuple[str, str, str, str]]:
    return [(s.kind, s.name, s.api_group or "", s.namespace or "") for s in subjects or []]
