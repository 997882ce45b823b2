"""Pure text for the slash command's ephemeral answers."""

from __future__ import annotations

from datetime import datetime

from bot.adapters.slack.blocks import escape, when
from bot.adapters.slack.markup import SLACK
from bot.domain.durations import format_duration
from bot.domain.grants import Extension, Grant, GrantStatus
from bot.domain.policy import Policy, Profile

HELP = """*eks-access* gives you time-boxed, approved access to Kubernetes clusters.

• `/eks-access` — open the request dialog: pick a profile, cluster, namespace and duration (also the *Request EKS access* shortcut, and the app's Home tab, which lists your grants with Extend/Revoke buttons)
• `/eks-access grant <profile> <duration> [ns=<namespace>] [cluster=<name>] [reason…]` — ask for access, e.g. `/eks-access grant pods-read 2h ns=payments looking at INC-42`
• `/eks-access break-glass <profile> <duration> [ns=<namespace>] [cluster=<name>] <reason>` — in an emergency, access at once without approval (where a profile allows it); announced to the approvers with @here, e.g. `/eks-access break-glass pods-read 30m INC-42 payments down`
• `/eks-access list` — your pending requests and active grants, with time left
• `/eks-access extend <id> <duration>` — ask for more time on an active grant
• `/eks-access revoke <id>` — end a grant now, or withdraw a pending request
• `/eks-access profiles` — what you may request, for how long, and who approves
• `/eks-access help` — this text

Durations: `30s`, `15m`, `2h`, `1h30m`, `1d`. Approvers get Approve/Deny buttons in <#{channel}>; you hear about every change by DM."""


def help_text(policy: Policy) -> str:
    return HELP.format(channel=policy.approval_channel)


def request_accepted(grant: Grant) -> str:
    if grant.status is not GrantStatus.PENDING:
        return (
            f":white_check_mark: Request `{grant.id}` was auto-approved by rule: *{grant.profile}* "
            f"on `{grant.cluster}`/`{grant.namespace}` for {format_duration(grant.duration)}. "
            + (
                "It is active: see the message with how to use it."
                if grant.status is GrantStatus.ACTIVE
                else "It is being applied; you get a message as soon as it is active."
            )
        )
    return (
        f":inbox_tray: Request `{grant.id}` sent for approval: *{grant.profile}* on "
        f"`{grant.cluster}`/`{grant.namespace}` for {format_duration(grant.duration)}. "
        f"It waits until {when(grant.pending_until)}; withdraw it with "
        f"`/eks-access revoke {grant.id}`."
    )


def grant_list(grants: list[Grant], now: datetime, to_decide: list[Grant] | None = None) -> str:
    lines = []
    if grants:
        lines.append("*Your requests and grants*")
    for g in grants:
        where = f"*{g.profile}* on `{g.cluster}`/`{g.namespace}`"
        if g.status is GrantStatus.PENDING:
            state = f"pending approval ({format_duration(g.duration)} asked)"
        elif g.status is GrantStatus.ACTIVE:
            state = f"active, {format_duration(g.time_left(now))} left (until {when(g.expires_at)})"
        else:
            state = g.status.label
        lines.append(f"• `{g.id}` {where} — {state}")
    if not grants:
        lines.append(
            "You have no pending requests or active grants. "
            "`/eks-access profiles` lists what you may request."
        )
    if to_decide:
        lines.append("*Waiting for your decision* (Approve/Deny in the approval channel)")
        for g in to_decide:
            lines.append(
                f"• `{g.id}` <@{g.requester}> — *{g.profile}* on `{g.cluster}`/`{g.namespace}` "
                f"for {format_duration(g.duration)}, waiting until {when(g.pending_until)}"
            )
    return "\n".join(lines)


def profile_list(profiles: list[Profile]) -> str:
    if not profiles:
        return "There is no profile you may request. Ask the platform team to add you to a profile's `requesters`."
    lines = ["*Profiles you may request*"]
    for p in profiles:
        approvers = ", ".join(SLACK.member(a) for a in p.approvers) or "per cluster"
        approvers += "".join(
            f"; on `{c}`: " + ", ".join(SLACK.member(a) for a in members)
            for c, members in p.cluster_approvers.items()
        )
        scope = f"ClusterRole `{p.cluster_role}`" if p.cluster_role else _rules(p)
        lines.append(
            f"• *{p.name}* — {escape(p.description) or scope}\n"
            f"    namespaces: {', '.join(f'`{n}`' for n in p.namespaces)} · "
            f"{format_duration(p.min_duration)}–{format_duration(p.max_duration)} · "
            f"approvers: {approvers}"
            + (f" ({p.approvals} must approve)" if p.approvals > 1 else "")
            + (" · self-approval allowed" if p.self_approval else "")
            + (_break_glass(p) if p.break_glass else "")
        )
    return "\n".join(lines)


def _break_glass(p: Profile) -> str:
    return f" · break-glass up to {format_duration(p.break_glass_max_duration)}"


def _rules(p: Profile) -> str:
    return "; ".join(f"{'/'.join(r.verbs)} {', '.join(r.resources)}" for r in p.rules)


def extension_accepted(extension: Extension) -> str:
    return (
        f":inbox_tray: Extension of `{extension.grant_id}` by "
        f"{format_duration(extension.duration)} sent for approval."
    )


def extended(grant: Grant) -> str:
    return f":white_check_mark: `{grant.id}` now ends {when(grant.expires_at)}."


def revoked(grant: Grant) -> str:
    if grant.status is GrantStatus.CANCELLED:
        return f":wastebasket: Request `{grant.id}` withdrawn."
    if grant.status is GrantStatus.ENDED:
        return f":lock: `{grant.id}` revoked: the RoleBinding is gone and access has ended."
    return f":gear: `{grant.id}` is being revoked; the cluster is not answering yet and the bot keeps retrying."
