"""Break-glass in Slack: the announcement (with @here and an Acknowledge button), what the
requester reads, and the Acknowledge click. The builders are pure; the handler is thin."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.adapters.slack.actions import clicked_id
from bot.adapters.slack.blocks import (
    Blocks,
    _end_reason,  # the approval message's own wording of how a grant ended
    access_active,
    button,
    context,
    escape,
    section,
    when,
)
from bot.adapters.slack.errors import user_message
from bot.adapters.slack.ids import Action
from bot.domain.durations import format_duration
from bot.domain.grants import Grant, GrantStatus
from bot.domain.policy import ClusterConfig, Policy
from bot.services.acknowledge import AcknowledgeBreakGlass
from bot.services.deps import Deps

HERE = "<!here>"


def channels(policy: Policy, grant: Grant) -> tuple[str, ...]:
    """Where a break-glass is announced: the profile's approval channel and the alert channel
    (once, when they are one)."""
    profile = policy.profiles.get(grant.profile)
    approvals = policy.approval_channel_of(profile) if profile else policy.approval_channel
    return tuple(dict.fromkeys((approvals, policy.alerts_to)))


def _announced_in(policy: Policy, grant: Grant) -> str:
    return " and ".join(f"<#{c}>" for c in channels(policy, grant))


def announcement_text(grant: Grant) -> str:
    return (
        f"{HERE} Break-glass: <@{grant.requester}> took {grant.profile} on "
        f"{grant.cluster}/{grant.namespace} without approval"
    )


def announcement(grant: Grant, description: str = "") -> Blocks:
    """The message in both channels, as the grant is now; the button goes once acknowledged."""
    reason = f"\n>{escape(grant.reason)}" if grant.reason else ""
    out: Blocks = [
        section(
            f":rotating_light: {HERE} *Break-glass*: *<@{grant.requester}>* took "
            f"*{grant.profile}* on `{grant.cluster}` in `{grant.namespace}` for "
            f"*{format_duration(grant.duration)}* without approval (request `{grant.id}`)"
            f"{reason}"
        ),
        context(f"{escape(description)} · principal `{grant.principal_arn}`"),
        context(state_line(grant)),
    ]
    if grant.acknowledged_by is not None:
        out.append(
            context(
                f":eyes: Acknowledged by <@{grant.acknowledged_by}> {when(grant.acknowledged_at)}"
            )
        )
    else:
        out.append(context(":warning: Not acknowledged yet: an approver acknowledges it here."))
        out.append(
            {
                "type": "actions",
                "block_id": f"acknowledge:{grant.id}",
                "elements": [
                    button("Acknowledge", Action.ACKNOWLEDGE_BREAK_GLASS, grant.id, "primary")
                ],
            }
        )
    return out


def state_line(grant: Grant) -> str:
    s = grant.status
    if s is GrantStatus.ACTIVATING:
        retry = f" (retrying: {escape(grant.last_error)})" if grant.last_error else ""
        return f":gear: Applying to the cluster{retry}"
    if s is GrantStatus.ACTIVE:
        return f":white_check_mark: Active until {when(grant.expires_at)}"
    if s is GrantStatus.REVOKING:
        return f":gear: Being removed from the cluster{_end_reason(grant)}"
    return f":lock: Ended {when(grant.ended_at)}{_end_reason(grant)}"


def accepted(grant: Grant, policy: Policy) -> str:
    """The requester's answer to the command."""
    where = _announced_in(policy, grant)
    if grant.status is GrantStatus.ACTIVE:
        return (
            f":rotating_light: Break-glass `{grant.id}`: *{grant.profile}* on "
            f"`{grant.cluster}`/`{grant.namespace}` is active until {when(grant.expires_at)}, "
            f"without approval. It was announced in {where}; the approvers review it. End it "
            f"early with `/eks-access revoke {grant.id}`."
        )
    if grant.status is GrantStatus.ACTIVATING:
        return (
            f":gear: Break-glass `{grant.id}` was announced in {where}, but cluster "
            f"`{grant.cluster}` is not answering yet. The bot keeps trying and tells you by DM "
            "as soon as your access is active."
        )
    return (
        f":x: Break-glass `{grant.id}` could not be applied: "
        f"{escape(grant.end_detail or grant.status.label)}. Nothing was left behind; it was "
        f"announced in {where}."
    )


def delayed_text(grant: Grant) -> str:
    return (
        f":gear: Your break-glass `{grant.id}` for *{grant.profile}* was announced, but "
        f"cluster `{grant.cluster}` is not answering yet. The bot keeps trying and tells you "
        "as soon as your access is active."
    )


def access_active_dm(grant: Grant, cluster: ClusterConfig, policy: Policy) -> Blocks:
    """The usual "your access is active" DM, saying it was break-glass and announced."""
    usual = access_active(grant, cluster)
    return [
        section(
            f":rotating_light: Your break-glass access *{grant.profile}* on `{grant.cluster}` "
            f"in `{grant.namespace}` is active until {when(grant.expires_at)} "
            f"(request `{grant.id}`)."
        ),
        *usual[1:],
        context(
            f"It was announced in {_announced_in(policy, grant)} with @here; the approvers "
            "review every break-glass."
        ),
    ]


def register(app: App, deps: Deps, work: Executor) -> None:
    @app.action(str(Action.ACKNOWLEDGE_BREAK_GLASS))
    def acknowledge(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]

        def run() -> str:
            grant = AcknowledgeBreakGlass(deps).execute(grant_id=clicked_id(body), actor=user)
            return (
                f":eyes: You acknowledged break-glass `{grant.id}` "
                f"(<@{grant.requester}>, *{grant.profile}*)."
            )

        work.submit(
            lambda: respond(
                text=user_message(run), response_type="ephemeral", replace_original=False
            )
        )
