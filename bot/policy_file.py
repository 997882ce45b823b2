"""The policy file: parsed into the domain's Policy, every problem named precisely.

Built once at start (`load_policy`) and by `eks-access check-config`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot import policy_clusters
from bot.domain.commands import NAME
from bot.domain.durations import InvalidDuration, parse_duration
from bot.domain.policy import Policy, Profile
from bot.domain.rbac import PolicyRule
from bot.policy_approvals import CHANNEL, KEYS, approval_settings, members
from bot.policy_problems import PolicyError, Problems, flag

__all__ = ["DEFAULTS", "PolicyError", "load_policy", "parse_policy"]


DEFAULTS = {
    "min_duration": timedelta(minutes=1),
    "max_duration": timedelta(hours=8),
    "warn_before": timedelta(minutes=10),
    "pending_timeout": timedelta(hours=4),
    "remind_after": timedelta(minutes=30),
}


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
    p = Problems()
    if not isinstance(doc, dict):
        raise PolicyError(["the policy file must be a mapping with slack, clusters and profiles"])
    p.unknown(doc, "", {"slack", "clusters", "identities", "defaults", "profiles"})
    slack = doc.get("slack") or {}
    if isinstance(slack, dict):
        p.unknown(slack, "slack.", {"approval_channel", "alert_channel"})
    if isinstance(doc.get("defaults"), dict):
        p.unknown(doc["defaults"], "defaults.", set(DEFAULTS))
    channel = str(slack.get("approval_channel", "")) if isinstance(slack, dict) else ""
    if not CHANNEL.match(channel):
        p.add("slack.approval_channel: required, a Slack channel id such as C0APPROVALS")
    alerts = slack.get("alert_channel") if isinstance(slack, dict) else None
    if alerts is not None and not CHANNEL.match(str(alerts)):
        p.add("slack.alert_channel: must be a Slack channel id such as C0ALERTS")
    clusters = policy_clusters.clusters(doc.get("clusters"), p)
    identities = policy_clusters.identities(doc.get("identities"), p)
    policy_clusters.one_spelling_per_principal(identities, clusters, p)
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


def _durations(
    raw: Any, where: str, base: dict[str, timedelta], p: Problems
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


def _rules(raw: Any, where: str, p: Problems) -> tuple[PolicyRule, ...]:
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
    "self_approval",
    "clusters",
    *DEFAULTS,
    *KEYS,
}


def _profiles(
    raw: Any, defaults: dict[str, timedelta], cluster_names: set[str], p: Problems
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
        approval = approval_settings(
            body,
            where,
            clusters=clusters,
            all_clusters=cluster_names,
            bounds=(durations["min_duration"], durations["max_duration"]),
            p=p,
        )
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
            remind_after=durations["remind_after"],
            requesters=members(body.get("requesters"), f"{where}.requesters", p, True),
            approvers=approval.approvers,
            cluster_approvers=approval.cluster_approvers,
            approvals=approval.approvals,
            approval_channel=approval.approval_channel,
            auto_approve=approval.auto_approve,
            break_glass=approval.break_glass,
            break_glass_max_duration=approval.break_glass_max_duration,
            durations=approval.durations,
            self_approval=flag(body, "self_approval", where, p),
            clusters=clusters,
        )
    return out
