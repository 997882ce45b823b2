"""The `clusters` and `identities` sections of the policy file."""

from __future__ import annotations

import re
from typing import Any

from bot.domain.commands import NAME
from bot.domain.policy import MAPPING_MODES, ClusterConfig, MappingMode
from bot.domain.principals import Identity, Principal
from bot.policy_problems import Problems, flag

_CLUSTER_KEYS = {
    "name", "kubeconfig", "context", "eks", "default", "mapping", "assume_role", "external_id",
    "sso_role",
}  # fmt: skip
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)


def clusters(raw: Any, p: Problems) -> list[ClusterConfig]:
    if not isinstance(raw, list) or not raw:
        p.add("clusters: required, a list with at least one cluster")
        return []
    out: list[ClusterConfig] = []
    for i, c in enumerate(raw):
        where = f"clusters[{i}]"
        if not isinstance(c, dict):
            p.add(f"{where}: must be a mapping with name and kubeconfig or eks")
            continue
        p.unknown(c, f"{where}.", _CLUSTER_KEYS)
        name = str(c.get("name", ""))
        if not NAME.fullmatch(name):
            p.add(f"{where}.name: required; lower-case letters, digits and dashes")
        eks = c.get("eks")
        if eks is None and c.get("kubeconfig") is None:
            p.add(
                f"{where}: give kubeconfig, eks, or both (Kubernetes through the kubeconfig, "
                "AWS calls to that EKS cluster)"
            )
        if isinstance(eks, dict):
            p.unknown(eks, f"{where}.eks.", {"name", "region"})
        if eks is not None and not (
            isinstance(eks, dict) and eks.get("name") and eks.get("region")
        ):
            p.add(f"{where}.eks: needs name and region, e.g. {{name: prod, region: eu-west-1}}")
            eks = None
        out.append(
            ClusterConfig(
                name=name,
                kubeconfig=str(c["kubeconfig"]) if c.get("kubeconfig") else None,
                context=str(c["context"]) if c.get("context") else None,
                eks_name=str(eks["name"]) if eks else None,
                eks_region=str(eks["region"]) if eks else None,
                default=flag(c, "default", where, p),
                mapping=_mapping_mode(c, where, has_eks=eks is not None, p=p),
                assume_role=_role_arn(c, "assume_role", where, p),
                external_id=_external_id(c, where, p),
                sso_role=_role_arn(c, "sso_role", where, p),
            )
        )
        if c.get("assume_role") is not None and eks is None:
            p.add(
                f"{where}.assume_role: only AWS calls use it, so the cluster needs "
                "eks: {name, region}"
            )
    if len({c.name for c in out}) != len(out):
        p.add("clusters: names must be unique")
    if sum(c.default for c in out) > 1:
        p.add("clusters: at most one cluster may be `default: true`")
    return out


def _mapping_mode(c: dict[str, Any], where: str, *, has_eks: bool, p: Problems) -> MappingMode:
    value = c.get("mapping", "auto")
    allowed = ", ".join(MAPPING_MODES)
    if value not in MAPPING_MODES:
        p.add(f"{where}.mapping: {value!r} is not one of {allowed}")
        return "auto"
    if value == "access-entries" and not has_eks:
        p.add(
            f"{where}.mapping: access-entries are made through the EKS API, so the cluster "
            "needs eks: {name, region}"
        )
    mode: MappingMode = value
    return mode


def _role_arn(c: dict[str, Any], key: str, where: str, p: Problems) -> str | None:
    value = c.get(key)
    if value is None:
        return None
    try:
        principal = Principal.parse(str(value))
    except ValueError as e:
        p.add(f"{where}.{key}: {e}")
        return None
    if principal.kind != "role":
        p.add(f"{where}.{key}: {value!r} is an IAM user; give an IAM role ARN")
        return None
    return principal.arn


def _external_id(c: dict[str, Any], where: str, p: Problems) -> str | None:
    value = c.get("external_id")
    if value is None:
        return None
    if c.get("assume_role") is None:
        p.add(f"{where}.external_id: only used with assume_role")
    if not _EXTERNAL_ID.match(str(value)):
        p.add(
            f"{where}.external_id: 2 to 1224 of letters, digits and + = , . @ : / - _ "
            f"(as STS allows), not {value!r}"
        )
        return None
    return str(value)


def identities(raw: Any, p: Problems) -> dict[str, Identity]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        p.add("identities: must map Slack user ids to IAM ARNs")
        return {}
    out = {}
    for user, value in raw.items():
        where = f"identities.{user}"
        if not re.match(r"^[UW][A-Z0-9]{2,}$", str(user)):
            p.add(f"{where}: not a Slack user id (U… or W…)")
            continue
        arn, session = value, None
        if isinstance(value, dict):
            p.unknown(value, f"{where}.", {"arn", "session"})
            arn, session = value.get("arn"), value.get("session")
            if arn is None:
                p.add(f"{where}.arn: required, the IAM role (or user) ARN")
                continue
            session = None if session is None else str(session)
        try:
            out[str(user)] = Identity.parse(str(arn), session)
        except ValueError as e:
            p.add(f"{where}: {e}")
    return out


def one_spelling_per_principal(
    identities: dict[str, Identity], clusters: list[ClusterConfig], p: Problems
) -> None:
    """Grants of one principal share its mapping, found by the ARN stored with each grant;
    `role/x` and `role/path/x` (an assumed-role ARN never shows the path) must not both occur."""
    spellings: dict[str, set[str]] = {}
    for identity in identities.values():
        spellings.setdefault(identity.principal.key, set()).add(identity.principal.arn)
    for cluster in clusters:
        if cluster.sso_role:
            spellings.setdefault(Principal.parse(cluster.sso_role).key, set()).add(cluster.sso_role)
    for arns in spellings.values():
        if len(arns) > 1:
            p.add(
                "identities: one IAM principal is spelled in several ways ("
                + ", ".join(sorted(arns))
                + "); write the same ARN everywhere (with the role's path, if it has one)"
            )
