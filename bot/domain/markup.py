"""How a sentence marks up the facts it names. The core writes the sentence once; the edge
chooses the markup (Slack mrkdwn in the Slack adapter, plain text for the CLI and logs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Markup(Protocol):
    def code(self, text: str) -> str:
        """A name to type or to find as is: a profile, a namespace, an id, a command."""
        ...

    def person(self, user_id: str) -> str:
        """A Slack user, by id."""
        ...

    def member(self, member: str) -> str:
        """An entry of a policy's requesters or approvers: a Slack user or user group id."""
        ...


def codes(m: Markup, names: Sequence[str], empty: str = "none") -> str:
    """Names as a list in a sentence: `a`, `b` (or `empty`)."""
    return ", ".join(m.code(n) for n in names) or empty


def is_group(member: str) -> bool:
    """Slack user ids start with U or W; user group ids with S."""
    return member[:1] not in ("U", "W")


class PlainText:
    """For a terminal and logs: backticks quote names (as compilers' messages do), people
    and groups are their ids."""

    def code(self, text: str) -> str:
        return f"`{text}`"

    def person(self, user_id: str) -> str:
        return user_id

    def member(self, member: str) -> str:
        return f"group {member}" if is_group(member) else member


PLAIN = PlainText()
