"""Each operation reads `now` once. The clock here moves a second at every read, so a
service that read it twice would stamp one decision with two different times — the bug of a
pass whose "now" drifts while it runs (a grant judged expired by one step and not by the next).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.commands import GrantCommand
from bot.services.decide import DecideRequest
from bot.services.request_access import RequestAccess
from bot.services.revoke import RevokeGrant
from bot.services.sweep import SweepDue
from tests.services.fakes import FakeStore, make_deps


class TickingClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def test_a_decision_is_stamped_with_one_time() -> None:
    deps = make_deps(clock=TickingClock())
    store = deps.store
    assert isinstance(store, FakeStore)
    command = GrantCommand("pods-read", timedelta(hours=2), "default")
    grant = RequestAccess(deps).execute(requester="U0ALICE", command=command)
    assert grant.pending_until - grant.created_at == timedelta(hours=4)
    active = DecideRequest(deps).execute(grant_id=grant.id, actor="U0CAROL", approve=True)
    approved = next(e for e in store.events if e.action == "request.approved")
    assert approved.at == active.decided_at
    assert active.expires_at == approved.at + timedelta(hours=2)
    activated = next(e for e in store.events if e.action == "grant.activated")
    assert activated.at == active.activated_at
    ended = RevokeGrant(deps).execute(grant_id=grant.id, actor="U0ALICE")
    revoked = next(e for e in store.events if e.action == "grant.revoked")
    assert ended.ended_at is not None and revoked.at <= ended.ended_at


def test_one_sweep_pass_judges_every_grant_at_the_same_moment() -> None:
    clock = TickingClock()
    deps = make_deps(clock=clock)
    for namespace in ("default", "payments"):
        RequestAccess(deps).execute(
            requester="U0ALICE",
            command=GrantCommand("pods-read", timedelta(hours=2), namespace),
        )
    clock.at += timedelta(hours=5)  # both requests are past their 4 h deadline
    report = SweepDue(deps).execute()
    assert report.timed_out == 2
    store = deps.store
    assert isinstance(store, FakeStore)
    ends = {g.ended_at for g in store.grants.values()}
    assert len(ends) == 1, f"one pass, one now: {ends}"
