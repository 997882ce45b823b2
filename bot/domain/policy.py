"""The policy: who may request which profile, who approves, within which bounds.

Built once from the policy file by `bot.config.load_policy` and passed down; pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.domain.rbac import PolicyRule

EVERYONE = "*"


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubeconfig: str | None = None
    context: str | None = None
    eks_name: str | None = None
    eks_region: str | None = None
    default: bool = False

    @property
    def is_eks(self) -> bool:
        return self.eks_name is not None

    def usage_hint(self) -> str:
        if self.eks_name:
            return f"aws eks update-kubeconfig --name {self.eks_name} --region {self.eks_region}"
        return f"use the kubeconfig for cluster `{self.name}` with your AWS identity"


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    namespaces: tuple[str, ...]
    rules: tuple[PolicyRule, ...]
    cluster_role: str | None
    min_duration: timedelta
    max_duration: timedelta
    warn_before: timedelta
    pending_timeout: timedelta
    requesters: tuple[str, ...]
    approvers: tuple[str, ...]
    self_approval: bool = False
    clusters: tuple[str, ...] = ()  # empty: every cluster

    @property
    def role_ref_kind(self) -> Literal["Role", "ClusterRole"]:
        return "ClusterRole" if self.cluster_role else "Role"

    def allows_cluster(self, cluster: str) -> bool:
        return not self.clusters or cluster in self.clusters


@dataclass(frozen=True)
class Policy:
    approval_channel: str
    clusters: tuple[ClusterConfig, ...]
    identities: dict[str, str]
    profiles: dict[str, Profile]
    alert_channel: str | None = None

    def cluster(self, name: str | None) -> ClusterConfig | None:
        if name is None:
            return self.default_cluster
        return next((c for c in self.clusters if c.name == name), None)

    @property
    def default_cluster(self) -> ClusterConfig:
        return next((c for c in self.clusters if c.default), self.clusters[0])

    @property
    def alerts_to(self) -> str:
        return self.alert_channel or self.approval_channel


def names_member(spec: tuple[str, ...], user_id: str, user_groups: frozenset[str]) -> bool:
    """Whether a requesters/approvers list names this user directly, by group, or by "*"."""
    return EVERYONE in spec or user_id in spec or bool(user_groups.intersection(spec))


def group_ids(spec: tuple[str, ...]) -> tuple[str, ...]:
    """The Slack user-group ids (S…) in a member list; membership of these is looked up live."""
    return tuple(s for s in spec if s.startswith("S"))
