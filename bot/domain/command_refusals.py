"""Refusals of the slash command's text itself, as facts (see `bot.domain.refusals`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.durations import InvalidDuration
from bot.domain.errors import Rejected
from bot.domain.markup import Markup, codes

LIST_HINT = "/eks-access list"


def shown(text: str) -> str:
    """What the user typed, safe to repeat back: printable, at most 40 characters."""
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 40 else text[:40] + "…"


# -- the command line --------------------------------------------------------------------------


@dataclass(eq=False)
class NotACommand(Rejected):
    word: str
    commands: tuple[str, ...]

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(shown(self.word))} is not a command. Try {codes(m, self.commands)}"
            f" — {m.code('/eks-access help')} explains each."
        )


@dataclass(eq=False)
class BadName(Rejected):
    kind: str  # profile, namespace, cluster
    value: str

    def describe(self, m: Markup) -> str:
        return (
            f"{m.code(shown(self.value))} is not a valid {self.kind} name: use lower-case "
            "letters, digits and dashes (at most 63 characters)."
        )


@dataclass(eq=False)
class MissingProfile(Rejected):
    usage: str

    def describe(self, m: Markup) -> str:
        return (
            f"Which profile? Usage: {m.code(self.usage)}. "
            f"{m.code('/eks-access profiles')} lists yours."
        )


@dataclass(eq=False)
class MissingRequestId(Rejected):
    usage: str

    def describe(self, m: Markup) -> str:
        return (
            f"Which request? Usage: {m.code(self.usage)} (ids are listed by {m.code(LIST_HINT)})."
        )


@dataclass(eq=False)
class NotARequestId(Rejected):
    value: str

    def describe(self, m: Markup) -> str:
        return f"{m.code(shown(self.value))} is not a request id; {m.code(LIST_HINT)} shows yours."


@dataclass(eq=False)
class MissingDuration(Rejected):
    usage: str

    def describe(self, m: Markup) -> str:
        return f"For how long? Usage: {m.code(self.usage)}."


@dataclass(eq=False)
class BadDuration(Rejected):
    problem: InvalidDuration

    def describe(self, m: Markup) -> str:
        return self.problem.describe(m)


@dataclass(eq=False)
class ReasonTooLong(Rejected):
    length: int
    limit: int

    def describe(self, m: Markup) -> str:
        return f"The reason is too long ({self.length} characters; at most {self.limit})."


@dataclass(eq=False)
class ReasonNeeded(Rejected):
    """Break-glass: the reason is what the approvers review afterwards."""

    usage: str
    shortest: int
    length: int

    def describe(self, m: Markup) -> str:
        said = f" (yours has {self.length})" if self.length else ""
        return (
            f"Break-glass needs a reason of at least {self.shortest} characters{said}: say "
            f"what is on fire, e.g. an incident id. Usage: {m.code(self.usage)}."
        )
