"""Many changes of aws-auth in one read-modify-write, each with its own outcome.

When many grants of one cluster are approved at once, editing aws-auth once per change costs
one write and one parse of the whole (growing) document each: N changes, N writes, O(N²)
parsing. Here the changes waiting together are planned on one reading of `data` and applied
as one text edit, checked once by `verify_safe_edit`.

That is the same as applying them one after another because a change only reads and writes
the entries that name its own principal (`Change.subject`): the foreign entries, which the
bot never changes, and its own entries for that principal. Changes of one principal are
therefore taken in order, one per round (an add and a remove queued together end as the
later one says). A change that is refused fails alone; if the combined result fails its
check (more than 1 MiB, say), the round is redone one change at a time, each checked, so
only the changes that cannot be applied fail. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.domain.aws_auth import OwnEdit, applied


class Change(Protocol):
    """One caller's change of aws-auth."""

    @property
    def subject(self) -> str:
        """Its principal as the authenticator compares callers (`match_key` of the ARN)."""
        ...

    def plan(self, data: dict[str, str]) -> OwnEdit:
        """What it does to `data`; raises to refuse it (`AwsAuthUnsafeEdit`, ...)."""
        ...


#: Per change: the `data` right after it (what it sees of its own effect), or why it failed.
Outcome = dict[str, str] | Exception


def edited_together(
    data: dict[str, str], changes: Sequence[Change]
) -> tuple[dict[str, str], list[Outcome]]:
    """`data` with every change that can be made, and each change's outcome, in order."""
    outcomes: list[Outcome | None] = [None] * len(changes)
    waiting = list(range(len(changes)))
    after = data
    while waiting:
        subjects: set[str] = set()
        this_round: list[int] = []
        later: list[int] = []
        for n in waiting:
            (later if changes[n].subject in subjects else this_round).append(n)
            subjects.add(changes[n].subject)
        after = _round(after, [(n, changes[n]) for n in this_round], outcomes)
        waiting = later
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(changes)  # every change is in exactly one round
    return after, done


def _round(
    data: dict[str, str], changes: list[tuple[int, Change]], outcomes: list[Outcome | None]
) -> dict[str, str]:
    """Changes of different principals, planned on `data` and applied at once."""
    planned: list[tuple[int, OwnEdit]] = []
    for n, change in changes:
        try:
            planned.append((n, change.plan(data)))
        except Exception as refused:  # that caller's own failure, whatever it is
            outcomes[n] = refused
    try:
        after = applied(data, [edit for _, edit in planned])
    except Exception:  # together they fail the check: find out which ones cannot be made
        return _one_by_one(data, [(n, c) for n, c in changes if outcomes[n] is None], outcomes)
    for n, _ in planned:
        outcomes[n] = after
    return after


def _one_by_one(
    data: dict[str, str], changes: list[tuple[int, Change]], outcomes: list[Outcome | None]
) -> dict[str, str]:
    for n, change in changes:
        try:
            data = applied(data, [change.plan(data)])
        except Exception as refused:
            outcomes[n] = refused
        else:
            outcomes[n] = data
    return data
