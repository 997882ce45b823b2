"""The approval message's lines about who decides: the approvers of the request's cluster
(mentioned, so they hear of it), the quorum's progress, who approved, and the reminder."""

from __future__ import annotations

from bot.adapters.slack.markup import SLACK
from bot.domain.grants import SYSTEM, Grant
from bot.domain.policy import Profile


def mentions(members: tuple[str, ...]) -> str:
    return ", ".join(SLACK.member(m) for m in members)


def who_decides(grant: Grant, profile: Profile) -> str:
    """Who may decide on the request's cluster, as mentions (and how many must approve)."""
    needed = f" · {profile.approvals} approvals needed" if profile.approvals > 1 else ""
    return f"Approvers: {mentions(profile.approvers_for(grant.cluster))}{needed}"


def progress(grant: Grant, profile: Profile) -> str:
    """The quorum's progress, as in "1 of 2 approvals: @carol" (nothing before its first vote,
    or without a quorum)."""
    if profile.approvals <= 1 or not grant.approvals:
        return ""
    return (
        f":ballot_box_with_check: {len(grant.approvals)} of {profile.approvals} approvals: "
        f"{mentions(grant.approvals)}"
    )


def approved_by(grant: Grant, *, capital: bool = True) -> str:
    """Who approved, as in "Approved by @carol and @erin", or "Auto-approved by rule"
    (`capital`: the first words of a sentence)."""
    if grant.break_glass:
        return "Applied by break-glass" if capital else "applied by break-glass"
    if grant.decided_by == SYSTEM:
        return "Auto-approved by rule" if capital else "auto-approved by rule"
    people = grant.approvals or ((grant.decided_by,) if grant.decided_by else ())
    names = [SLACK.person(p) for p in people]
    joined = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{'A' if capital else 'a'}pproved by {joined or 'an approver'}"


def reminder_text(grant: Grant, profile: Profile) -> str:
    """The reply in the approval message's thread while the request still waits."""
    so_far = f" ({len(grant.approvals)} of {profile.approvals} approvals so far)"
    return (
        f":bell: {mentions(profile.approvers_for(grant.cluster))}: request `{grant.id}` by "
        f"<@{grant.requester}> (*{grant.profile}* on `{grant.cluster}`/`{grant.namespace}`) "
        f"still waits for a decision" + (so_far if profile.approvals > 1 else "") + "."
    )
