"""An engineer asks for a profile: every policy check, then one pending request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain import transitions
from bot.domain.auto_approval import auto_approved
from bot.domain.commands import GrantCommand
from bot.domain.grants import AuditEvent, Grant, GrantStatus
from bot.domain.policy import ClusterConfig, Policy, Profile
from bot.domain.principals import Identity
from bot.domain.refusals import (
    AlreadyRequested,
    DurationOutOfBounds,
    EmailNotASessionName,
    NamespaceNeeded,
    NamespaceNotAllowed,
    NoEmailForSso,
    NoIdentity,
    NoSuchCluster,
    ProfileNotOnCluster,
    ProfileNotRequestable,
)
from bot.services.deps import Deps
from bot.services.log_context import note


class RequestAccess:
    """Validates a grant request against the policy and stores it as pending (or, when the
    profile's auto_approve rule covers it, as approved: the caller activates it, and the
    sweep does if the caller crashes first).

    Nothing is stored unless every check passes. The approval message is owed in the same
    transaction as the row, and posted from the outbox once it is committed, so a click can
    never name a request the database does not know.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, requester: str, command: GrantCommand) -> Grant:
        deps = self.deps
        checked = check_request(
            deps.policy, requester, command, deps.is_member, deps.directory.email_of
        )
        profile, cluster, namespace = checked.profile, checked.cluster, checked.namespace
        now = deps.clock.now()
        for other in deps.store.open_grants_of(requester):
            if (other.cluster, other.profile, other.namespace) == (
                cluster.name,
                profile.name,
                namespace,
            ):
                raise AlreadyRequested(other.id, profile.name, namespace, other.status.value)
        grant = checked.new_request(
            deps.new_id(), requester, command, now=now, pending_until=now + profile.pending_timeout
        )
        note(grant_id=grant.id, cluster=grant.cluster)
        created = transitions.request_created(grant)
        also: tuple[AuditEvent, ...] = ()
        if profile.auto_approve is not None and profile.auto_approves(
            deps.is_member(requester, profile.auto_approve.requesters), grant.duration
        ):
            grant, approved = auto_approved(grant, now=now, lease=deps.retry.lease)
            also = (approved,)
        deps.store.add_grant(grant, created, transitions.requested(grant), also=also)
        return grant


@dataclass(frozen=True)
class CheckedRequest:
    profile: Profile
    cluster: ClusterConfig
    namespace: str
    identity: Identity

    def new_request(
        self,
        grant_id: str,
        requester: str,
        command: GrantCommand,
        *,
        now: datetime,
        pending_until: datetime,
    ) -> Grant:
        """The request as the checks found it: pending, for `command`'s duration and reason."""
        return Grant(
            id=grant_id,
            requester=requester,
            principal_arn=self.identity.principal.arn,
            session_name=self.identity.session,
            profile=self.profile.name,
            cluster=self.cluster.name,
            namespace=self.namespace,
            duration=command.duration,
            reason=command.reason,
            status=GrantStatus.PENDING,
            created_at=now,
            pending_until=pending_until,
        )


def check_request(
    policy: Policy,
    requester: str,
    command: GrantCommand,
    is_member: Callable[[str, tuple[str, ...]], bool],
    email_of: Callable[[str], str | None],
) -> CheckedRequest:
    """Every policy check of a grant request, in the order a user would want to hear them."""
    profile = policy.profiles.get(command.profile)
    if profile is None or not is_member(requester, profile.requesters):
        mine = tuple(p.name for p in policy.profiles.values() if is_member(requester, p.requesters))
        raise ProfileNotRequestable(command.profile, profile is not None, mine)
    cluster = policy.cluster(command.cluster)
    identity = policy.identities.get(requester)
    if identity is None and (cluster is None or cluster.sso_role is None):
        raise NoIdentity(requester)
    if cluster is None:
        raise NoSuchCluster(command.cluster, tuple(c.name for c in policy.clusters))
    if not profile.allows_cluster(cluster.name):
        raise ProfileNotOnCluster(profile.name, cluster.name, tuple(profile.clusters))
    namespace = _namespace(profile, command.namespace)
    check_duration(profile, command.duration)
    if identity is None:
        identity = _sso_identity(cluster, email_of(requester))
    return CheckedRequest(profile, cluster, namespace, identity)


def _sso_identity(cluster: ClusterConfig, email: str | None) -> Identity:
    """The cluster's shared IAM Identity Center role, signed in to as the requester's email."""
    assert cluster.sso_role is not None
    if not email:
        raise NoEmailForSso(cluster.name, cluster.sso_role)
    try:
        return Identity.parse(cluster.sso_role, email)
    except ValueError:
        raise EmailNotASessionName(email, cluster.sso_role) from None


def _namespace(profile: Profile, asked: str | None) -> str:
    allowed = tuple(profile.namespaces)
    if asked is None:
        if len(profile.namespaces) == 1:
            return profile.namespaces[0]
        raise NamespaceNeeded(profile.name, allowed)
    if asked not in profile.namespaces:
        raise NamespaceNotAllowed(asked, profile.name, allowed)
    return asked


def check_duration(profile: Profile, duration: timedelta) -> None:
    """Within the profile's bounds (a request, or an extension)."""
    if not profile.min_duration <= duration <= profile.max_duration:
        raise DurationOutOfBounds(
            duration, profile.name, profile.min_duration, profile.max_duration
        )
