"""Pure Block Kit builders: values in, dicts out. No I/O, no clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.adapters.slack import approvals
from bot.adapters.slack.ids import Action, Field, View
from bot.domain.durations import format_duration
from bot.domain.grants import EndReason, Extension, ExtensionStatus, Grant, GrantStatus
from bot.domain.policy import ClusterConfig, Profile

Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Slack mrkdwn control characters; user text can never ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def when(at: datetime | None) -> str:
    if at is None:
        return "—"
    epoch = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def button(label: str, action: Action, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": str(action),
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def grant_summary(grant: Grant) -> str:
    reason = f"\n>{escape(grant.reason)}" if grant.reason else ""
    return (
        f"*<@{grant.requester}>* requests *{grant.profile}* on `{grant.cluster}` "
        f"in `{grant.namespace}` for *{format_duration(grant.duration)}* "
        f"(request `{grant.id}`){reason}"
    )


def approval_message(grant: Grant, profile: Profile | None) -> Blocks:
    """The approval message as the request is now: with its buttons while it waits."""
    if grant.status is GrantStatus.PENDING and profile is not None:
        return approval_request(grant, profile)
    return approval_outcome(grant)


def approval_request(grant: Grant, profile: Profile) -> Blocks:
    progress = approvals.progress(grant, profile)
    return [
        section(grant_summary(grant)),
        context(f"{escape(profile.description)} · principal `{grant.principal_arn}`"),
        context(approvals.who_decides(grant, profile)),
        *([context(progress)] if progress else []),
        {
            "type": "actions",
            "block_id": f"decide:{grant.id}",
            "elements": [
                button("Approve", Action.APPROVE_GRANT, grant.id, "primary"),
                button("Deny", Action.DENY_GRANT, grant.id, "danger"),
            ],
        },
    ]


def outcome_line(grant: Grant) -> str:
    s = grant.status
    if s is GrantStatus.PENDING:
        return f":hourglass: Waiting for approval until {when(grant.pending_until)}"
    if s is GrantStatus.DENIED:
        note = f": {escape(grant.decision_note)}" if grant.decision_note else ""
        return f":no_entry: Denied by <@{grant.decided_by}>{note}"
    if s is GrantStatus.TIMED_OUT:
        return ":hourglass_flowing_sand: Timed out without a decision"
    if s is GrantStatus.CANCELLED:
        return f":wastebasket: Withdrawn by <@{grant.ended_by}>"
    approved = approvals.approved_by(grant)
    if s is GrantStatus.ACTIVATING:
        retry = f" (retrying: {escape(grant.last_error)})" if grant.last_error else ""
        return f":gear: {approved} · applying to the cluster{retry}"
    if s is GrantStatus.ACTIVE:
        return f":white_check_mark: {approved} · active until {when(grant.expires_at)}"
    if s is GrantStatus.REVOKING:
        return f":gear: {approved} · revoking{_end_reason(grant)}"
    return f":lock: {approved} · ended {when(grant.ended_at)}{_end_reason(grant)}"


def _end_reason(grant: Grant) -> str:
    if grant.end_reason is EndReason.EXPIRED:
        return " (expired)"
    if grant.end_reason is EndReason.REVOKED:
        return f" (revoked by <@{grant.ended_by}>)"
    if grant.end_reason is EndReason.FAILED:
        return f" (could not be applied: {escape(grant.end_detail or 'unknown error')})"
    return ""


def approval_outcome(grant: Grant) -> Blocks:
    return [section(grant_summary(grant)), context(outcome_line(grant))]


def access_active(grant: Grant, cluster: ClusterConfig) -> Blocks:
    return [
        section(
            f":white_check_mark: Your access *{grant.profile}* on `{grant.cluster}` in "
            f"`{grant.namespace}` is active until {when(grant.expires_at)} "
            f"({approvals.approved_by(grant, capital=False)}, request `{grant.id}`)."
        ),
        section(
            f"To use it: {_sign_in_hint(grant)}, `{cluster.usage_hint()}`, then "
            f"`kubectl -n {grant.namespace} get pods`.\n"
            f"Kubernetes sees you as `{grant.k8s_username}`."
        ),
        {
            "type": "actions",
            "block_id": f"revoke:{grant.id}",
            "elements": [button("Revoke now", Action.REVOKE_GRANT, grant.id, "danger")],
        },
        context(f"Done early? Revoke now, or `/eks-access revoke {grant.id}`"),
    ]


def _sign_in_hint(grant: Grant) -> str:
    identity = grant.identity
    if identity.session is None:
        return f"sign in to AWS as `{identity.principal.arn}`"
    return (
        f"sign in to AWS with role `{identity.principal.arn}` as session "
        f"`{identity.session}` (your IAM Identity Center sign-in does this)"
    )


def expiry_warning(grant: Grant) -> Blocks:
    return [
        section(
            f":alarm_clock: Your access *{grant.profile}* on `{grant.cluster}`/`{grant.namespace}` "
            f"ends {when(grant.expires_at)} (request `{grant.id}`)."
        ),
        {
            "type": "actions",
            "block_id": f"extend:{grant.id}",
            "elements": [button("Extend", Action.EXTEND_GRANT, grant.id, "primary")],
        },
        context(f"Or: `/eks-access extend {grant.id} 1h`"),
    ]


def extension_request(extension: Extension, grant: Grant) -> Blocks:
    return [
        section(
            f"*<@{extension.requested_by}>* asks to extend *{grant.profile}* on "
            f"`{grant.cluster}`/`{grant.namespace}` (request `{grant.id}`) by "
            f"*{format_duration(extension.duration)}*; it now ends {when(grant.expires_at)}."
        ),
        {
            "type": "actions",
            "block_id": f"extension:{extension.id}",
            "elements": [
                button("Approve", Action.APPROVE_EXTENSION, extension.id, "primary"),
                button("Deny", Action.DENY_EXTENSION, extension.id, "danger"),
            ],
        },
    ]


def extension_outcome(extension: Extension, grant: Grant) -> Blocks:
    lines = {
        ExtensionStatus.APPROVED: f":white_check_mark: Approved by <@{extension.decided_by}>; "
        f"now ends {when(grant.expires_at)}",
        ExtensionStatus.DENIED: f":no_entry: Denied by <@{extension.decided_by}>"
        + (f": {escape(extension.decision_note)}" if extension.decision_note else ""),
        ExtensionStatus.TIMED_OUT: ":hourglass_flowing_sand: Timed out without a decision",
        ExtensionStatus.CANCELLED: ":wastebasket: Withdrawn",
        ExtensionStatus.PENDING: ":hourglass: Waiting for approval",
    }
    return [
        section(
            f"Extension of `{grant.id}` (*{grant.profile}*, <@{grant.requester}>) "
            f"by {format_duration(extension.duration)}"
        ),
        context(lines[extension.status]),
    ]


def reason_modal(
    view: View, object_id: str, title: str, with_duration: bool = False
) -> dict[str, Any]:
    blocks: Blocks = []
    if with_duration:
        blocks.append(
            {
                "type": "input",
                "block_id": str(Field.DURATION_BLOCK),
                "label": {"type": "plain_text", "text": "How much longer?"},
                "hint": {"type": "plain_text", "text": "30m, 2h, 1h30m …"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": str(Field.DURATION_INPUT),
                    "initial_value": "1h",
                },
            }
        )
    else:
        blocks.append(
            {
                "type": "input",
                "block_id": str(Field.REASON_BLOCK),
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (sent to the requester)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": str(Field.REASON_INPUT),
                    "multiline": True,
                    "max_length": 500,
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": str(view),
        "private_metadata": object_id,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
