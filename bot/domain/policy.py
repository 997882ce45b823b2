"""The policy: who may request which profile, who approves, within which bounds.

Built once from the policy file by `bot.policy_file.load_policy` and passed down; pure values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from bot.domain.errors import PermanentError
from bot.domain.principals import Identity
from bot.domain.rbac import PolicyRule

EVERYONE = "*"

#: How the bot maps an identity to a Kubernetes username on a cluster.
MappingMode = Literal["aws-auth", "access-entries", "auto"]
MAPPING_MODES: tuple[MappingMode, ...] = ("aws-auth", "access-entries", "auto")


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubeconfig: str | None = None
    context: str | None = None
    eks_name: str | None = None
    eks_region: str | None = None
    default: bool = False
    #: aws-auth, access-entries, or auto: from the EKS cluster's authentication mode.
    mapping: MappingMode = "auto"
    #: Every AWS call for this cluster uses credentials from STS AssumeRole on this role.
    assume_role: str | None = None
    external_id: str | None = None
    #: Requesters without an identity of their own act as this role, session = Slack email.
    sso_role: str | None = None

    def mapping_for(self, authentication_mode: str | None) -> Literal["aws-auth", "access-entries"]:
        """Where this cluster's identity mappings go, given what EKS says the cluster reads.

        `authentication_mode` is None when the cluster is not an EKS one the bot can ask (or the
        API does not say, as for clusters from before access entries): aws-auth.
        """
        mode = authentication_mode
        if self.mapping == "auto":
            return "access-entries" if mode in ("API", "API_AND_CONFIG_MAP") else "aws-auth"
        if self.mapping == "aws-auth" and mode == "API":
            raise PermanentError(
                f"EKS cluster `{self.eks_name}` reads access entries only (authentication mode "
                f"API), so an aws-auth entry would be ignored. Set `mapping: access-entries` "
                f"(or `auto`) for cluster `{self.name}`."
            )
        if self.mapping == "access-entries" and mode == "CONFIG_MAP":
            raise PermanentError(
                f"EKS cluster `{self.eks_name}` reads aws-auth only (authentication mode "
                f"CONFIG_MAP), so it has no access entries. Set `mapping: aws-auth` (or `auto`) "
                f"for cluster `{self.name}`, or move the cluster to API_AND_CONFIG_MAP."
            )
        return "access-entries" if self.mapping == "access-entries" else "aws-auth"

    @property
    def is_eks(self) -> bool:
        """Whether the bot talks to the EKS API for this cluster (access entries, mode)."""
        return self.eks_name is not None

    def usage_hint(self) -> str:
        if self.eks_name:
            return f"aws eks update-kubeconfig --name {self.eks_name} --region {self.eks_region}"
        return f"use the kubeconfig for cluster `{self.name}` with your AWS identity"


@dataclass(frozen=True)
class AutoApprove:
    """Requests the bot approves by itself: from one of `requesters`, at most `max_duration`."""

    requesters: tuple[str, ...]
    max_duration: timedelta


#: Durations offered in the request dialog when a profile names none (those within its bounds).
STANDARD_DURATIONS = tuple(timedelta(minutes=m) for m in (15, 30, 60, 120, 240, 480, 720, 1440))


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
    #: Distinct approvers needed before the request is approved (quorum).
    approvals: int = 1
    #: Where this profile's requests are posted; None: the policy's approval channel.
    approval_channel: str | None = None
    #: Approvers per cluster name; a cluster not named here has `approvers` (the "*" entry).
    cluster_approvers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    auto_approve: AutoApprove | None = None
    #: `/eks-access break-glass` may apply this profile at once, without approval.
    break_glass: bool = False
    break_glass_max_duration: timedelta = timedelta(hours=1)
    #: A pending request is brought back to its approvers' attention this often.
    remind_after: timedelta = timedelta(minutes=30)
    #: The durations offered in the request dialog (any other within bounds may be typed).
    durations: tuple[timedelta, ...] = ()

    @property
    def role_ref_kind(self) -> Literal["Role", "ClusterRole"]:
        return "ClusterRole" if self.cluster_role else "Role"

    def allows_cluster(self, cluster: str) -> bool:
        return not self.clusters or cluster in self.clusters

    def approvers_for(self, cluster: str) -> tuple[str, ...]:
        """Who decides on a request for `cluster` (routing by cluster, "*" the fallback)."""
        return self.cluster_approvers.get(cluster, self.approvers)

    @property
    def all_approvers(self) -> tuple[str, ...]:
        """Everyone who approves on some cluster (for "what may I approve")."""
        seen = dict.fromkeys(self.approvers)
        for members in self.cluster_approvers.values():
            seen.update(dict.fromkeys(members))
        return tuple(seen)

    @property
    def duration_choices(self) -> tuple[timedelta, ...]:
        """The presets of the request dialog: the profile's own, else the standard ones within
        its bounds (and its maximum)."""
        if self.durations:
            return self.durations
        within = [d for d in STANDARD_DURATIONS if self.min_duration <= d <= self.max_duration]
        if self.max_duration not in within:
            within.append(self.max_duration)
        return tuple(within)

    def auto_approves(self, requester_is_listed: bool, duration: timedelta) -> bool:
        """Whether a request of `duration`, by a requester the auto_approve rule lists (or
        not), is approved by the bot itself."""
        return (
            self.auto_approve is not None
            and requester_is_listed
            and duration <= self.auto_approve.max_duration
        )


@dataclass(frozen=True)
class Policy:
    approval_channel: str
    clusters: tuple[ClusterConfig, ...]
    identities: dict[str, Identity]
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

    def approval_channel_of(self, profile: Profile) -> str:
        return profile.approval_channel or self.approval_channel


def names_member(spec: tuple[str, ...], user_id: str, user_groups: frozenset[str]) -> bool:
    """Whether a requesters/approvers list names this user directly, by group, or by "*"."""
    return EVERYONE in spec or user_id in spec or bool(user_groups.intersection(spec))


def group_ids(spec: tuple[str, ...]) -> tuple[str, ...]:
    """The Slack user-group ids (S…) in a member list; membership of these is looked up live."""
    return tuple(s for s in spec if s.startswith("S"))
