"""Errors sorted at the boundary.

`Rejected` is a refusal: it changes nothing and carries the facts a human needs (what was
wrong, what is allowed); `describe(markup)` writes its sentence in the edge's markup and
`str()` is plain text. The refusals of the core are in `bot.domain.refusals`.
`TransientError` means "try again later" (network, 5xx, 409 after retries); `PermanentError`
means a human has to look (unparseable aws-auth, forbidden). Adapters raise both with a plain
sentence.
"""

from __future__ import annotations

from bot.domain.markup import PLAIN, Markup


class EksAccessError(Exception):
    """Base of every error the bot raises on purpose."""


class Rejected(EksAccessError):
    """A request, click or command that is refused. Subclasses carry fields and write their
    sentence in `describe`; a plain `Rejected("…")` (an adapter's) is its own sentence."""

    def describe(self, m: Markup) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return self.describe(PLAIN)


class Conflict(Rejected):
    """The state moved on under us (already approved, no longer pending)."""


class NotFound(Rejected):
    """No such request or grant (or not one this user may see)."""


class TransientError(EksAccessError):
    """An external system failed in a way that may pass: retry with backoff."""


class PermanentError(EksAccessError):
    """An external system refused in a way retrying will not fix: alert a human."""
