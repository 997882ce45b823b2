"""The approval settings of a profile in the policy file: who approves where, how many,
what the bot approves by itself, break-glass, reminders and the dialog's durations.

Each problem is named with its path and what is allowed, as the rest of the parser does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.domain.durations import InvalidDuration, format_duration, parse_duration
from bot.domain.policy import EVERYONE, AutoApprove
from bot.policy_problems import Problems, flag

SLACK_MEMBER = re.compile(r"^[UWS][A-Z0-9]{2,}$")
CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")
MAX_APPROVALS = 10

#: The keys of a profile this module reads.
KEYS = {
    "approvers",
    "approvals",
    "approval_channel",
    "auto_approve",
    "break_glass",
    "break_glass_max_duration",
    "durations",
}
DEFAULT_BREAK_GLASS_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class ApprovalSettings:
    approvers: tuple[str, ...]
    cluster_approvers: dict[str, tuple[str, ...]]
    approvals: int
    approval_channel: str | None
    auto_approve: AutoApprove | None
    break_glass: bool
    break_glass_max_duration: timedelta
    durations: tuple[timedelta, ...]


def members(raw: Any, where: str, p: Problems, allow_everyone: bool) -> tuple[str, ...]:
    """A list of Slack user ids (U…/W…), user-group ids (S…) and, for requesters, "*"."""
    if not isinstance(raw, list) or not raw:
        p.add(
            f"{where}: required, a list of Slack user ids (U…), user-group ids (S…)"
            + (' or "*"' if allow_everyone else "")
        )
        return ()
    out = []
    for m in map(str, raw):
        if (m == EVERYONE and allow_everyone) or SLACK_MEMBER.match(m):
            out.append(m)
        else:
            p.add(
                f"{where}: {m!r} is not a Slack user id (U…/W…) or user-group id (S…)"
                + ("" if allow_everyone else '; "*" is not allowed for approvers')
            )
    return tuple(out)


def approval_settings(
    body: dict[str, Any],
    where: str,
    *,
    clusters: tuple[str, ...],
    all_clusters: set[str],
    bounds: tuple[timedelta, timedelta],
    p: Problems,
) -> ApprovalSettings:
    """`clusters`: the profile's own list (empty: every cluster); `bounds`: its min and max
    duration."""
    approvers, by_cluster = _approvers(body.get("approvers"), f"{where}.approvers", p)
    reachable = clusters or tuple(sorted(all_clusters))
    for name in by_cluster:
        if name not in all_clusters:
            p.add(
                f"{where}.approvers: no cluster named {name!r} (clusters: {_names(all_clusters)})"
            )
        elif clusters and name not in clusters:
            p.add(f"{where}.approvers: the profile is not offered on cluster {name!r}")
    if by_cluster and not approvers:
        missing = [c for c in reachable if c not in by_cluster]
        if missing:
            p.add(
                f'{where}.approvers: nobody approves on {_names(missing)}; add a "*" entry '
                "or list those clusters"
            )
    approvals = _approvals(body.get("approvals", 1), f"{where}.approvals", p)
    if approvals > 1:
        for name, listed in [("*", approvers), *by_cluster.items()]:
            if listed and not any(m.startswith("S") for m in listed) and len(listed) < approvals:
                p.add(
                    f"{where}.approvals: {approvals} approvals are needed, but only "
                    f"{len(listed)} approver(s) are listed for {name!r}"
                )
    channel = body.get("approval_channel")
    if channel is not None and not CHANNEL.match(str(channel)):
        p.add(f"{where}.approval_channel: must be a Slack channel id such as C0APPROVALS")
    low, high = bounds
    return ApprovalSettings(
        approvers=approvers,
        cluster_approvers=by_cluster,
        approvals=approvals,
        approval_channel=str(channel) if channel else None,
        auto_approve=_auto_approve(body.get("auto_approve"), f"{where}.auto_approve", high, p),
        break_glass=flag(body, "break_glass", where, p),
        break_glass_max_duration=_duration(
            body, "break_glass_max_duration", where, DEFAULT_BREAK_GLASS_MAX, p, at_most=high
        ),
        durations=_presets(body.get("durations"), f"{where}.durations", low, high, p),
    )


def _names(names: Any) -> str:
    return ", ".join(sorted(map(str, names))) or "none"


def _approvers(
    raw: Any, where: str, p: Problems
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """A list (every cluster), or a mapping of cluster name (or "*") to a list."""
    if not isinstance(raw, dict):
        return members(raw, where, p, False), {}
    if not raw:
        p.add(f'{where}: a mapping of cluster name (or "*") to a list of approvers')
        return (), {}
    fallback: tuple[str, ...] = ()
    by_cluster: dict[str, tuple[str, ...]] = {}
    for cluster, listed in raw.items():
        found = members(listed, f"{where}.{cluster}", p, False)
        if str(cluster) == EVERYONE:
            fallback = found
        else:
            by_cluster[str(cluster)] = found
    return fallback, by_cluster


def _approvals(raw: Any, where: str, p: Problems) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_APPROVALS:
        p.add(f"{where}: must be a whole number from 1 to {MAX_APPROVALS}, not {raw!r}")
        return 1
    return raw


def _duration(
    body: dict[str, Any],
    key: str,
    where: str,
    default: timedelta,
    p: Problems,
    at_most: timedelta | None = None,
) -> timedelta:
    if key not in body:
        return default if at_most is None else min(default, at_most)
    try:
        value = parse_duration(str(body[key]))
    except InvalidDuration as e:
        p.add(f"{where}.{key}: {e}")
        return default
    if at_most is not None and value > at_most:
        p.add(
            f"{where}.{key}: {format_duration(value)} is longer than the profile's "
            f"max_duration ({format_duration(at_most)})"
        )
    return value


def _auto_approve(raw: Any, where: str, max_duration: timedelta, p: Problems) -> AutoApprove | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        p.add(f"{where}: a mapping with requesters (a list) and max_duration (such as 1h)")
        return None
    p.unknown(raw, f"{where}.", {"requesters", "max_duration"})
    requesters = members(raw.get("requesters"), f"{where}.requesters", p, True)
    if "max_duration" not in raw:
        p.add(f"{where}.max_duration: required, the longest request approved by this rule")
        return None
    limit = _duration(raw, "max_duration", where, max_duration, p, at_most=max_duration)
    return AutoApprove(requesters, limit)


def _presets(
    raw: Any, where: str, low: timedelta, high: timedelta, p: Problems
) -> tuple[timedelta, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        p.add(f"{where}: a list of durations such as [30m, 1h, 2h]")
        return ()
    out: list[timedelta] = []
    for value in raw:
        try:
            d = parse_duration(str(value))
        except InvalidDuration as e:
            p.add(f"{where}: {e}")
            continue
        if not low <= d <= high:
            p.add(
                f"{where}: {format_duration(d)} is outside the profile's bounds "
                f"({format_duration(low)} to {format_duration(high)})"
            )
        elif d not in out:
            out.append(d)
    return tuple(sorted(out))
