"""What the operation in progress is about, for its log lines: the grant, the actor, the cluster.

An entry point opens a `scope` for each unit of work (a Slack request, a scheduler job, one
grant of the sweep); a use case `note`s what it learns on the way (the grant it has read).
Every line logged inside the scope, by the bot or by a library it calls, then carries those
fields: `bot.adapters.logs` copies them onto each record. Only `contextvars` here: the core
does not know how, or whether, logs are written.

A scope ends with its block, and a note outside any scope does nothing, so a field can never
stay behind on the next piece of work a thread picks up. A thread pool that runs work for an
entry point carries the submitter's fields over (`bot.adapters.slack.app.WorkPool`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

#: The fields of the innermost open scope; None outside any scope.
_fields: ContextVar[dict[str, str] | None] = ContextVar("eks_access_log_fields", default=None)


def _given(grant_id: str | None, actor: str | None, cluster: str | None) -> dict[str, str]:
    named = {"grant_id": grant_id, "actor": actor, "cluster": cluster}
    return {key: value for key, value in named.items() if value}


@contextmanager
def scope(
    *, grant_id: str | None = None, actor: str | None = None, cluster: str | None = None
) -> Iterator[None]:
    """A unit of work starts: it has the fields of the scope around it, and these."""
    fields = {**(_fields.get() or {}), **_given(grant_id, actor, cluster)}
    token = _fields.set(fields)
    try:
        yield
    finally:
        _fields.reset(token)


def note(
    *, grant_id: str | None = None, actor: str | None = None, cluster: str | None = None
) -> None:
    """The work in progress has learnt what it is about: its lines carry these fields from now
    until its scope ends."""
    fields = _fields.get()
    if fields is not None:
        fields.update(_given(grant_id, actor, cluster))


def current() -> Mapping[str, str]:
    """The fields for a line logged now."""
    return _fields.get() or {}
