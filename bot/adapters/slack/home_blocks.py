"""The App Home tab, as pure Block Kit: the user's grants and requests with their buttons,
what waits for their decision, and what ended lately. Each button carries only the grant's
id; every click is re-authorised on the server."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.adapters.slack.blocks import Blocks, button, context, escape, section, when
from bot.adapters.slack.ids import Action
from bot.domain.durations import format_duration
from bot.domain.grants import Grant, GrantStatus

#: At most this many of each list, so the view stays under Slack's 100 blocks.
SHOWN = 15


def home_view(
    *, mine: list[Grant], to_decide: list[Grant], recent: list[Grant], now: datetime
) -> dict[str, Any]:
    """`mine`: the user's open requests and grants; `to_decide`: pending requests they may
    approve; `recent`: their ended ones, latest first."""
    holding = [g for g in mine if g.status is not GrantStatus.PENDING]
    pending = [g for g in mine if g.status is GrantStatus.PENDING]
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "EKS access"}},
        {
            "type": "actions",
            "block_id": "home:request",
            "elements": [button("Request access", Action.OPEN_REQUEST_DIALOG, "new", "primary")],
        },
        section("*Your access*"),
    ]
    for g in holding[:SHOWN]:
        blocks += _holding(g, now)
    if not holding:
        blocks.append(context("No access right now."))
    blocks.append(section("*Your pending requests*"))
    for g in pending[:SHOWN]:
        blocks.append(
            section(
                f"{_what(g)} for {format_duration(g.duration)} · waiting until {when(g.pending_until)}"
            )
        )
        blocks.append(_buttons("withdraw", g, button("Withdraw", Action.WITHDRAW_REQUEST, g.id)))
    if not pending:
        blocks.append(context("Nothing waiting for approval."))
    if to_decide:
        blocks.append(section("*Waiting for your decision*"))
        for g in to_decide[:SHOWN]:
            reason = f"\n>{escape(g.reason)}" if g.reason else ""
            blocks.append(
                section(
                    f"<@{g.requester}> asks for {_what(g)} for {format_duration(g.duration)} · "
                    f"until {when(g.pending_until)}{reason}"
                )
            )
            blocks.append(
                _buttons(
                    "decide",
                    g,
                    button("Approve", Action.APPROVE_GRANT, g.id, "primary"),
                    button("Deny", Action.DENY_GRANT, g.id, "danger"),
                )
            )
        if len(to_decide) > SHOWN:
            blocks.append(context(f"…and {len(to_decide) - SHOWN} more in the approval channel."))
    if recent:
        blocks.append(section("*Recently ended*"))
        blocks.append(section("\n".join(f"• {_what(g)} — {_ended(g)}" for g in recent)))
    return {"type": "home", "blocks": blocks}


def _what(g: Grant) -> str:
    return f"*{g.profile}* on `{g.cluster}`/`{g.namespace}` (`{g.id}`)"


def _buttons(kind: str, g: Grant, *elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "block_id": f"home:{kind}:{g.id}", "elements": list(elements)}


def _holding(g: Grant, now: datetime) -> Blocks:
    if g.status is GrantStatus.ACTIVE:
        left = format_duration(g.time_left(now))
        revoke = button("Revoke", Action.REVOKE_GRANT, g.id, "danger")
        revoke["confirm"] = confirm_revoke(g)
        return [
            section(f":white_check_mark: {_what(g)} · {left} left (until {when(g.expires_at)})"),
            _buttons("active", g, button("Extend", Action.EXTEND_GRANT, g.id), revoke),
        ]
    if g.status is GrantStatus.ACTIVATING:
        revoke = button("Revoke", Action.REVOKE_GRANT, g.id, "danger")
        return [
            section(f":gear: {_what(g)} · approved, being applied to the cluster"),
            _buttons("activating", g, revoke),
        ]
    return [section(f":gear: {_what(g)} · being revoked")]


def confirm_revoke(g: Grant) -> dict[str, Any]:
    """Slack asks before the click is sent: revoking cannot be undone."""
    return {
        "title": {"type": "plain_text", "text": "End this access now?"},
        "text": {
            "type": "mrkdwn",
            "text": f"*{g.profile}* on `{g.cluster}`/`{g.namespace}` ends at once.",
        },
        "confirm": {"type": "plain_text", "text": "Revoke"},
        "deny": {"type": "plain_text", "text": "Keep it"},
        "style": "danger",
    }


def _ended(g: Grant) -> str:
    at = when(g.ended_at)
    if g.status is GrantStatus.DENIED:
        return f":no_entry: denied by <@{g.decided_by}> {at}"
    if g.status is GrantStatus.CANCELLED:
        return f":wastebasket: withdrawn {at}"
    if g.status is GrantStatus.TIMED_OUT:
        return f":hourglass_flowing_sand: timed out {at}"
    reason = g.end_reason.value if g.end_reason else "ended"
    return f":lock: {reason} {at}"
