"""The policy file: parsed into the domain's Policy, every problem named precisely.

Built once at start (`load_policy`) and by `eks-access check-config`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.domain.commands import NAME
from bot.domain.durations import InvalidDuration, parse_duration
from bot.domain.policy import (
    EVERYONE,
    MAPPING_MODES,
    ClusterConfig,
    MappingMode,
    Policy,
    Profile,
)
from bot.domain.principals import Identity, Principal
from bot.domain.rbac import PolicyRule


class PolicyError(ValueError):
    """The policy file is wrong. The message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


DEFAULTS = {
    "min_duration": timedelta(minutes=1),
    "max_duration": timedelta(hours=8),
    "warn_before": timedelta(minutes=10),
    "pending_timeout": timedelta(hours=4),
}
_SLACK_MEMBER = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def load_policy(path: str | Path) -> Policy:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise PolicyError([f"cannot read the policy file {path}: {e.strerror}"]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError([f"{path} is not valid YAML: {e}"]) from None
    return parse_policy(doc)


def parse_policy(doc: Any) -> Policy:
    p = _Problems()
    if not isinstance(doc, dict):
        raise PolicyError(["the policy file must be a mapping with slack, clusters and profiles"])
    p.unknown(doc, "", {"slack", "clusters", "identities", "defaults", "profiles"})
    slack = doc.get("slack") or {}
    if isinstance(slack, dict):
        p.unknown(slack, "slack.", {"approval_channel", "alert_channel"})
    if isinstance(doc.get("defaults"), dict):
        p.unknown(doc["defaults"], "defaults.", set(DEFAULTS))
    channel = str(slack.get("approval_channel", "")) if isinstance(slack, dict) else ""
    if not _CHANNEL.match(channel):
        p.add("slack.approval_channel: required, a Slack channel id such as C0APPROVALS")
    alerts = slack.get("alert_channel") if isinstance(slack, dict) else None
    if alerts is not None and not _CHANNEL.match(str(alerts)):
        p.add("slack.alert_channel: must be a Slack channel id such as C0ALERTS")
    clusters = _clusters(doc.get("clusters"), p)
    identities = _identities(doc.get("identities"), p)
    _one_spelling_per_principal(identities, clusters, p)
    defaults = _durations(doc.get("defaults") or {}, "defaults", DEFAULTS, p)
    profiles = _profiles(doc.get("profiles"), defaults, {c.name for c in clusters}, p)
    p.raise_if_any()
    return Policy(
        approval_channel=channel,
        clusters=tuple(clusters),
        identities=identities,
        profiles=profiles,
        alert_channel=str(alerts) if alerts else None,
    )


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def unknown(self, mapping: dict[str, Any], where: str, known: set[str]) -> None:
        for key in sorted(set(map(str, mapping)) - known):
            self.add(f"{where}{key}: unknown setting (allowed: {', '.join(sorted(known))})")

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.items)


_CLUSTER_KEYS = {
    "name", "kubeconfig", "context", "eks", "default", "mapping", "assume_role", "external_id",
    "sso_role",
}  # fmt: skip
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)


def _clusters(raw: Any, p: _Problems) -> list[ClusterConfig]:
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
                default=_flag(c, "default", where, p),
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


def _mapping_mode(c: dict[str, Any], where: str, *, has_eks: bool, p: _Problems) -> MappingMode:
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


def _role_arn(c: dict[str, Any], key: str, where: str, p: _Problems) -> str | None:
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


def _external_id(c: dict[str, Any], where: str, p: _Problems) -> str | None:
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


def _flag(mapping: dict[str, Any], key: str, where: str, p: _Problems) -> bool:
    value = mapping.get(key, False)
    if not isinstance(value, bool):
        p.add(f"{where}.{key}: must be true or false (without quotes), not {value!r}")
        return False
    return value


def _identities(raw: Any, p: _Problems) -> dict[str, Identity]:
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


def _one_spelling_per_principal(
    identities: dict[str, Identity], clusters: list[ClusterConfig], p: _Problems
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


def _durations(
    raw: Any, where: str, base: dict[str, timedelta], p: _Problems
) -> dict[str, timedelta]:
    out = dict(base)
    if not isinstance(raw, dict):
        p.add(f"{where}: must be a mapping")
        return out
    for key in base:
        if key in raw:
            try:
                out[key] = parse_duration(str(raw[key]))
            except InvalidDuration as e:
                p.add(f"{where}.{key}: {e}")
    if out["min_duration"] > out["max_duration"]:
        p.add(f"{where}: min_duration is longer than max_duration")
    return out


def _members(raw: Any, where: str, p: _Problems, allow_everyone: bool) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        p.add(
            f"{where}: required, a list of Slack user ids (U…), user-group ids (S…)"
            + (' or "*"' if allow_everyone else "")
        )
        return ()
    out = []
    for m in map(str, raw):
        if (m == EVERYONE and allow_everyone) or _SLACK_MEMBER.match(m):
            out.append(m)
        else:
            p.add(
                f"{where}: {m!r} is not a Slack user id (U…/W…) or user-group id (S…)"
                + ("" if allow_everyone else '; "*" is not allowed for approvers')
            )
    return tuple(out)


def _rules(raw: Any, where: str, p: _Problems) -> tuple[PolicyRule, ...]:
    if not isinstance(raw, list) or not raw:
        p.add(f"{where}: a non-empty list of rules (apiGroups, resources, verbs)")
        return ()
    out = []
    for i, r in enumerate(raw):
        w = f"{where}[{i}]"
        if not isinstance(r, dict):
            p.add(f"{w}: must be a mapping with apiGroups, resources and verbs")
            continue
        p.unknown(r, f"{w}.", {"apiGroups", "resources", "verbs", "resourceNames"})
        lists = {}
        for key in ("apiGroups", "resources", "verbs", "resourceNames"):
            value = r.get(key, [] if key == "resourceNames" else None)
            if not isinstance(value, list) or (key != "resourceNames" and not value):
                p.add(f"{w}.{key}: required, a list of strings")
                value = []
            lists[key] = tuple(str(v) for v in value)
        out.append(
            PolicyRule(
                lists["apiGroups"], lists["resources"], lists["verbs"], lists["resourceNames"]
            )
        )
    return tuple(out)


_PROFILE_KEYS = {
    "description",
    "namespaces",
    "rules",
    "cluster_role",
    "requesters",
    "approvers",
    "self_approval",
    "clusters",
    *DEFAULTS,
}


def _profiles(
    raw: Any, defaults: dict[str, timedelta], cluster_names: set[str], p: _Problems
) -> dict[str, Profile]:
    if not isinstance(raw, dict) or not raw:
        p.add("profiles: required, a mapping of profile name to profile")
        return {}
    out = {}
    for name, body in raw.items():
        where = f"profiles.{name}"
        if not NAME.fullmatch(str(name)):
            p.add(f"{where}: profile names use lower-case letters, digits and dashes")
        if not isinstance(body, dict):
            p.add(f"{where}: must be a mapping")
            continue
        p.unknown(body, f"{where}.", _PROFILE_KEYS)
        namespaces = body.get("namespaces")
        if not isinstance(namespaces, list) or not namespaces:
            p.add(f"{where}.namespaces: required, a list of namespace names")
            namespaces = []
        for ns in namespaces:
            if not NAME.fullmatch(str(ns)):
                p.add(f"{where}.namespaces: {ns!r} is not a valid namespace name")
        cluster_role = body.get("cluster_role")
        rules: tuple[PolicyRule, ...] = ()
        if (cluster_role is None) == (body.get("rules") is None):
            p.add(f"{where}: give exactly one of rules or cluster_role")
        elif cluster_role is None:
            rules = _rules(body.get("rules"), f"{where}.rules", p)
        if any("*" in (r.verbs + r.resources + r.api_groups) for r in rules):
            p.add(f"{where}.rules: wildcards are not allowed; list the verbs and resources")
        durations = _durations(body, where, defaults, p)
        clusters = tuple(str(c) for c in body.get("clusters") or ())
        for c in clusters:
            if c not in cluster_names:
                p.add(f"{where}.clusters: no cluster named {c!r}")
        out[str(name)] = Profile(
            name=str(name),
            description=str(body.get("description", "")),
            namespaces=tuple(str(n) for n in namespaces),
            rules=rules,
            cluster_role=str(cluster_role) if cluster_role else None,
            min_duration=durations["min_duration"],
            max_duration=durations["max_duration"],
            warn_before=durations["warn_before"],
            pending_timeout=durations["pending_timeout"],
            requesters=_members(body.get("requesters"), f"{where}.requesters", p, True),
            approvers=_members(body.get("approvers"), f"{where}.approvers", p, False),
            self_approval=_flag(body, "self_approval", where, p),
            clusters=clusters,
        )
    return out
