"""Refusals of a break-glass access and of its acknowledgement, as facts (the others are in
`bot.domain.refusals`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import format_duration
from bot.domain.errors import Conflict, Rejected
from bot.domain.markup import Markup, codes


@dataclass(eq=False)
class BreakGlassNotAllowed(Rejected):
    """`exists`: the profile is in the policy; `requestable`: the user is one of its
    requesters; `allowed`: the user's profiles that do allow break-glass."""

    profile: str
    exists: bool
    requestable: bool
    allowed: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        if not self.exists:
            what = f"There is no profile {m.code(self.profile)}."
        elif not self.requestable:
            what = f"You may not request {m.code(self.profile)}, so you cannot break glass on it."
        else:
            what = (
                f"Profile {m.code(self.profile)} does not allow break-glass; ask for it with "
                f"{m.code('/eks-access grant')}."
            )
        return f"{what} Profiles you may break glass on: {codes(m, self.allowed)}."


@dataclass(eq=False)
class BreakGlassTooLong(Rejected):
    asked: timedelta
    profile: str
    longest: timedelta

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(format_duration(self.asked))} is longer than break-glass allows on "
            f"{m.code(self.profile)}: at most {format_duration(self.longest)}. Ask for longer "
            f"with {m.code('/eks-access grant')}, which needs approval."
        )


@dataclass(eq=False)
class BreakGlassTooShort(Rejected):
    asked: timedelta
    profile: str
    shortest: timedelta

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(format_duration(self.asked))} is shorter than {m.code(self.profile)} "
            f"allows: at least {format_duration(self.shortest)}."
        )


@dataclass(eq=False)
class AlreadyHeld(Rejected):
    grant_id: str
    profile: str
    namespace: str

    def describe(self, m: Markup) -> str:
        return (
            f"You already hold {m.code(self.profile)} in {m.code(self.namespace)} "
            f"({m.code(self.grant_id)}); {m.code(f'/eks-access extend {self.grant_id} <duration>')}"
            " makes it longer."
        )


@dataclass(eq=False)
class NotBreakGlass(Rejected):
    grant_id: str

    def describe(self, m: Markup) -> str:
        return f"{m.code(self.grant_id)} was approved as usual; there is nothing to acknowledge."


@dataclass(eq=False)
class OwnBreakGlass(Rejected):
    profile: str

    def describe(self, m: Markup) -> str:
        return (
            "You cannot acknowledge your own break-glass access; another approver of "
            f"{m.code(self.profile)} must."
        )


@dataclass(eq=False)
class AlreadyAcknowledged(Conflict):
    grant_id: str
    by: str | None

    def describe(self, m: Markup) -> str:
        by = f" by {m.person(self.by)}" if self.by else ""
        return f"Break-glass {m.code(self.grant_id)} was already acknowledged{by}."
