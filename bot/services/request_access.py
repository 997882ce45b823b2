"""An engineer asks for a profile: every policy check, then one pending request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import transitions
from bot.domain.commands import GrantCommand
from bot.domain.durations import format_duration
from bot.domain.errors import Rejected
from bot.domain.grants import AuditEvent, Grant, GrantStatus
from bot.domain.policy import ClusterConfig, Policy, Profile
from bot.domain.principals import Identity
from bot.services.deps import Deps


class RequestAccess:
    """Validates a grant request against the policy and stores it as pending.

    Nothing is stored unless every check passes. The approval message is posted after the
    row is committed, so a click can never name a request the database does not know.
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
                raise Rejected(
                    f"You already have request `{other.id}` for `{profile.name}` in `{namespace}` "
                    f"({other.status.value}). Use `/eks-access extend {other.id} <duration>` "
                    "to make an active grant longer."
                )
        grant = Grant(
            id=deps.new_id(),
            requester=requester,
            principal_arn=checked.identity.principal.arn,
            session_name=checked.identity.session,
            profile=profile.name,
            cluster=cluster.name,
            namespace=namespace,
            duration=command.duration,
            reason=command.reason,
            status=GrantStatus.PENDING,
            created_at=now,
            pending_until=now + profile.pending_timeout,
        )
        deps.store.add_grant(
            grant,
            AuditEvent(
                now,
                requester,
                "request.created",
                grant.id,
                f"{profile.name} {format_duration(grant.duration)} ns={namespace}",
            ),
        )
        ref = deps.notifier.approval_requested(grant, profile)
        if ref is not None:
            noted = transitions.note_approval_message(grant, channel=ref.channel, ts=ref.ts)
            grant = deps.store.apply(noted) or grant
        return grant


@dataclass(frozen=True)
class CheckedRequest:
    profile: Profile
    cluster: ClusterConfig
    namespace: str
    identity: Identity


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
        mine = [p.name for p in policy.profiles.values() if is_member(requester, p.requesters)]
        allowed = ", ".join(f"`{n}`" for n in mine) or "none"
        what = "There is no profile" if profile is None else "You may not request"
        raise Rejected(f"{what} `{command.profile}`. Profiles you may request: {allowed}.")
    cluster = policy.cluster(command.cluster)
    identity = policy.identities.get(requester)
    if identity is None and (cluster is None or cluster.sso_role is None):
        raise Rejected(
            "You have no IAM identity in the policy, so there is nothing to grant access to. "
            f"Ask the platform team to add your Slack id `{requester}` under `identities`."
        )
    if cluster is None:
        names = ", ".join(f"`{c.name}`" for c in policy.clusters)
        raise Rejected(f"There is no cluster `{command.cluster}`. Clusters: {names}.")
    if not profile.allows_cluster(cluster.name):
        names = ", ".join(f"`{c}`" for c in profile.clusters)
        raise Rejected(
            f"Profile `{profile.name}` is not granted on `{cluster.name}`; only on {names}."
        )
    namespace = _namespace(profile, command.namespace)
    _check_duration(profile, command)
    if identity is None:
        identity = _sso_identity(cluster, email_of(requester))
    return CheckedRequest(profile, cluster, namespace, identity)


def _sso_identity(cluster: ClusterConfig, email: str | None) -> Identity:
    """The cluster's shared IAM Identity Center role, signed in to as the requester's email."""
    assert cluster.sso_role is not None
    if not email:
        raise Rejected(
            f"On `{cluster.name}` you sign in through the shared role `{cluster.sso_role}` with "
            "your email address as the session name, but your Slack profile shows no email. "
            "Ask the platform team to add you under `identities`."
        )
    try:
        return Identity.parse(cluster.sso_role, email)
    except ValueError:
        raise Rejected(
            f"Your email `{email}` cannot be an AWS session name (at most 64 of letters, "
            "digits and + = , . @ _ -), so the bot cannot tell you apart on the shared role "
            f"`{cluster.sso_role}`. Ask the platform team to add you under `identities`."
        ) from None


def _namespace(profile: Profile, asked: str | None) -> str:
    allowed = ", ".join(f"`{n}`" for n in profile.namespaces)
    if asked is None:
        if len(profile.namespaces) == 1:
            return profile.namespaces[0]
        raise Rejected(f"Which namespace? Add `ns=<name>`; `{profile.name}` allows {allowed}.")
    if asked not in profile.namespaces:
        raise Rejected(
            f"Namespace `{asked}` is not allowed for `{profile.name}`; allowed: {allowed}."
        )
    return asked


def _check_duration(profile: Profile, command: GrantCommand) -> None:
    lo, hi = profile.min_duration, profile.max_duration
    if not lo <= command.duration <= hi:
        raise Rejected(
            f"`{format_duration(command.duration)}` is outside what `{profile.name}` allows: "
            f"between {format_duration(lo)} and {format_duration(hi)}."
        )
