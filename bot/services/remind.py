"""Bring pending requests back to their approvers' attention, once per `remind_after`."""

from __future__ import annotations

from datetime import datetime

from bot.domain import transitions
from bot.domain.grants import SYSTEM
from bot.services.deps import Deps
from bot.services.log_context import scope


class RemindApprovers:
    """Run by the sweep on the one scheduler replica.

    A request still pending `remind_after` after it was posted (or last reminded) owes a reply
    in its approval message's thread, until it is decided or times out. The reminder is a
    transition conditional on the reminder it read, so two sweeps (a failover in between)
    remind once.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self, *, now: datetime) -> int:
        deps = self.deps
        profiles = deps.policy.profiles
        shortest = min((p.remind_after for p in profiles.values()), default=None)
        if shortest is None:
            return 0
        reminded = 0
        for grant in deps.store.reminders_due(now, shortest):
            profile = profiles.get(grant.profile)
            if (
                profile is None
                or (grant.reminded_at or grant.created_at) + profile.remind_after > now
            ):
                continue
            with scope(grant_id=grant.id, actor=SYSTEM):
                if deps.store.apply(transitions.remind(grant, now=now)) is not None:
                    reminded += 1
        return reminded
