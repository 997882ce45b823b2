"""Errors sorted at the boundary.

`Rejected` carries a sentence for a human: what was wrong and what is allowed. It changes
nothing. `TransientError` means "try again later" (network, 5xx, 409 after retries);
`PermanentError` means a human has to look (unparseable aws-auth, forbidden).
"""


class EksAccessError(Exception):
    """Base of every error the bot raises on purpose."""


class Rejected(EksAccessError):
    """A request, click or command that is refused. `str(e)` is shown to the user as is."""


class Conflict(Rejected):
    """The state moved on under us (already approved, no longer pending)."""


class NotFound(Rejected):
    """No such request or grant (or not one this user may see)."""


class TransientError(EksAccessError):
    """An external system failed in a way that may pass: retry with backoff."""


class PermanentError(EksAccessError):
    """An external system refused in a way retrying will not fix: alert a human."""
