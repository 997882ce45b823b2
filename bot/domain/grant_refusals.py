"""The core's refusals about a grant once it exists: extending it and ending it (those of a
request and its decision are in `bot.domain.refusals`). Each writes its one sentence with the
markup the edge gives it; `str()` is the plain-text form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.domain.durations import format_duration
from bot.domain.errors import Conflict, Rejected
from bot.domain.markup import Markup

# -- grants ------------------------------------------------------------------------------------


@dataclass(eq=False)
class NotTheHolder(Rejected):
    grant_id: str
    holder: str

    def describe(self, m: Markup) -> str:
        return f"Only {m.person(self.holder)}, who holds {m.code(self.grant_id)}, can extend it."


@dataclass(eq=False)
class NotExtendable(Conflict):
    grant_id: str
    status: str

    def describe(self, m: Markup) -> str:
        return f"{m.code(self.grant_id)} is {self.status}; only active grants can be extended."


@dataclass(eq=False)
class ExtensionPending(Conflict):
    grant_id: str

    def describe(self, m: Markup) -> str:
        return f"An extension of {m.code(self.grant_id)} is already waiting for approval."


@dataclass(eq=False)
class ExtensionTooLong(Rejected):
    grant_id: str
    longest: timedelta
    room: timedelta

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(self.grant_id)} may not run longer than {format_duration(self.longest)} "
            f"from now; you can extend it by at most "
            f"{format_duration(max(self.room, timedelta(0)))}."
        )


@dataclass(eq=False)
class EndedBeforeExtension(Conflict):
    grant_id: str

    def describe(self, m: Markup) -> str:
        return f"{m.code(self.grant_id)} ended before the extension could be applied."


@dataclass(eq=False)
class NotAllowedToRevoke(Rejected):
    grant_id: str
    profile: str

    def describe(self, m: Markup) -> str:
        return (
            f"Only the requester or an approver of {m.code(self.profile)} can revoke "
            f"{m.code(self.grant_id)}."
        )


@dataclass(eq=False)
class AlreadyOver(Conflict):
    grant_id: str
    status: str

    def describe(self, m: Markup) -> str:
        return f"{m.code(self.grant_id)} is already {self.status}."
