"""The GrantStore contract, checked against the in-memory fake the service tests use and the
SQL store on real SQLite and PostgreSQL: transitions win once, their audit event is written
with them, the named queries answer the same, and timestamps stay timezone-aware."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore
from bot.domain import extension_transitions, transitions
from bot.domain.break_glass import acknowledge, break_glass, note_alert_message
from bot.domain.grants import (
    AuditEvent,
    EndReason,
    Extension,
    ExtensionStatus,
    Grant,
    GrantStatus,
    MappedIdentity,
    MappedVia,
)
from bot.domain.notices import NoticeKind, OwedNotice
from bot.domain.ports import GrantStore
from bot.domain.transitions import requested
from tests.services.fakes import FakeStore
from tests.support.records import a_request

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


class WithOutbox(GrantStore, Protocol):
    """The store, and the outbox the worker reads."""

    def owed(self, *, limit: int) -> list[OwedNotice]: ...

    def delivered(self, notice_id: int, now: datetime) -> None: ...

    def delivered_all(self, notice_ids: list[int], now: datetime) -> None: ...


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Iterator[WithOutbox]:
    if request.param == "fake":
        yield FakeStore()
        return
    url = str(request.getfixturevalue(f"{request.param}_url"))
    migrate.upgrade(url)
    engine = make_engine(url)
    yield SqlGrantStore(engine)
    engine.dispose()


def pending(grant_id: str = "abcd2345", **changes: Any) -> Grant:
    created_at = changes.pop("created_at", NOW)
    fields = {"principal_arn": "arn:aws:iam::1:user/a", "duration": timedelta(hours=2)}
    return a_request(
        grant_id, created_at, **{"pending_until": NOW + timedelta(hours=4), **fields, **changes}
    )


def seed(store: GrantStore, *grants: Grant) -> None:
    for grant in grants:
        store.add_grant(grant, AuditEvent(NOW, "system", "seed", grant.id))


def test_round_trip_and_a_transition_that_wins_once(store: GrantStore) -> None:
    store.add_grant(pending(), AuditEvent(NOW, "U0ALICE", "request.created", "abcd2345"))
    assert store.get_grant("abcd2345") == pending()
    grant = pending()
    approved = store.apply(
        transitions.approve(grant, actor="U0CAROL", note="", now=NOW, lease=LEASE)
    )
    assert approved is not None and approved.status is GrantStatus.ACTIVATING
    assert approved.expires_at == NOW + timedelta(hours=2) and approved.expires_at.tzinfo
    assert approved.decided_by == "U0CAROL" and approved.decision_note is None
    assert store.apply(transitions.deny(grant, actor="U0CAROL", note="no", now=NOW)) is None
    assert store.get_grant("abcd2345") == approved
    assert [e.action for e in store.audit_trail("abcd2345")] == [
        "request.created",
        "request.approved",
    ]


def test_concurrent_transitions_have_one_winner(store: GrantStore) -> None:
    seed(store, pending())
    winners: list[str] = []

    def decide(actor: str) -> None:
        decision = transitions.approve(pending(), actor=actor, note="", now=NOW, lease=LEASE)
        if store.apply(decision):
            winners.append(actor)

    threads = [threading.Thread(target=decide, args=(f"U{i:04d}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    decided = store.get_grant("abcd2345")
    assert decided is not None and decided.decided_by == winners[0]
    actions = [e.action for e in store.audit_trail("abcd2345")]
    assert actions.count("request.approved") == 1


def test_the_whole_life_of_a_grant(store: GrantStore) -> None:
    seed(store, pending())
    grant = store.apply(
        transitions.approve(pending(), actor="U0C", note="ok", now=NOW, lease=LEASE)
    )
    assert grant is not None
    mapped = MappedIdentity("eks-access:1:user/a", MappedVia.ACCESS_ENTRY)
    grant = store.apply(transitions.activated(grant, mapped=mapped, now=NOW))
    assert grant is not None and grant.mapped_via is MappedVia.ACCESS_ENTRY
    assert store.access_refs("dev")[0].mapped_via is MappedVia.ACCESS_ENTRY
    grant = store.apply(
        extension_transitions.extend(grant, by=timedelta(hours=1), actor="U0ALICE", now=NOW)
    )
    assert grant is not None and grant.expires_at == NOW + timedelta(hours=3)
    later = NOW + timedelta(minutes=1)
    grant = store.apply(transitions.revoke(grant, actor="U0ALICE", now=later, lease=LEASE))
    assert grant is not None and grant.end_reason is EndReason.REVOKED
    failing = store.apply(
        transitions.retry_later(
            grant, step="revoke", error="x" * 900, now=later, retry_at=later + LEASE, alert_after=3
        )
    )
    assert failing is not None and failing.attempts == 1 and len(failing.last_error or "") == 500
    ended = store.apply(transitions.end(failing, now=later))
    assert ended is not None and ended.status is GrantStatus.ENDED and ended.last_error is None
    assert [e.action for e in store.audit_trail(grant.id)] == [
        "seed",
        "request.approved",
        "grant.activated",
        "grant.extended",
        "grant.revoked",
        "revoke.retry",
        "grant.ended",
    ]


def test_queries_used_by_the_sweep(store: GrantStore) -> None:
    seed(
        store,
        *(
            pending(f"grant{'abc'[i]}xyz", status=status, expires_at=NOW + timedelta(minutes=i))
            for i, status in enumerate([GrantStatus.ACTIVE, GrantStatus.ACTIVE, GrantStatus.ENDED])
        ),
        pending("pendingq", pending_until=NOW),
        pending("activate", status=GrantStatus.ACTIVATING, expires_at=NOW + timedelta(hours=1)),
        pending(
            "revokesx",
            status=GrantStatus.REVOKING,
            expires_at=NOW,
            next_attempt_at=NOW + timedelta(seconds=1),
        ),
    )
    assert [g.id for g in store.due_for_expiry(NOW)] == ["grantaxyz"]
    warn = store.due_for_warning(NOW, timedelta(minutes=5))
    assert {g.id for g in warn} == {"grantaxyz", "grantbxyz"}
    assert [g.id for g in store.active_expiring_by(NOW + timedelta(minutes=1))] == [
        "grantaxyz",
        "grantbxyz",
    ]
    assert [g.id for g in store.requests_past_deadline(NOW)] == ["pendingq"]
    assert [g.id for g in store.activations_due(NOW)] == ["activate"]
    assert store.revocations_due(NOW) == []
    assert [g.id for g in store.revocations_due(NOW + timedelta(seconds=1))] == ["revokesx"]
    assert [g.id for g in store.pending_requests(limit=10)] == ["pendingq"]
    assert {g.id for g in store.open_grants_of("U0ALICE")} == {
        "grantaxyz",
        "grantbxyz",
        "pendingq",
        "activate",
        "revokesx",
    }
    holders = store.access_holders(principal_arn="arn:aws:iam::1:user/a", cluster="dev")
    assert {g.id for g in holders} == {"grantaxyz", "grantbxyz", "activate"}
    assert store.access_holders(principal_arn="arn:aws:iam::1:user/a", cluster="prod") == []
    assert {r.id for r in store.access_refs("dev")} == {"grantaxyz", "grantbxyz", "activate"}
    # by id, a page at a time
    assert [r.id for r in store.access_refs("dev", limit=2)] == ["activate", "grantaxyz"]
    assert [r.id for r in store.access_refs("dev", after="grantaxyz", limit=2)] == ["grantbxyz"]


def test_extensions(store: GrantStore) -> None:
    active = pending(status=GrantStatus.ACTIVE, expires_at=NOW + timedelta(hours=1))
    seed(store, active)
    extension = Extension(
        id="ext23456",
        grant_id=active.id,
        requested_by="U0ALICE",
        duration=timedelta(minutes=30),
        status=ExtensionStatus.PENDING,
        created_at=NOW,
        pending_until=NOW + timedelta(minutes=10),
    )
    store.add_extension(extension, AuditEvent(NOW, "U0ALICE", "extension.requested", active.id))
    assert store.pending_extension_of(active.id) == extension
    assert store.extensions_past_deadline(NOW) == []
    noted = store.apply(
        extension_transitions.note_extension_message(extension, channel="C1", ts="1.2")
    )
    assert noted is not None and noted.approval_ts == "1.2"
    late = NOW + timedelta(minutes=10)
    assert [e.id for e in store.extensions_past_deadline(late)] == ["ext23456"]
    timed_out = store.apply(extension_transitions.time_out_extension(noted, now=late))
    assert timed_out is not None and timed_out.status is ExtensionStatus.TIMED_OUT
    decide = extension_transitions.decide_extension(
        noted, actor="U0C", approve=True, note="", now=late
    )
    assert store.apply(decide) is None
    assert store.pending_extension_of(active.id) is None
    assert store.get_extension("ext23456") == timed_out


def test_messages_owed_are_written_with_the_change_that_owes_them(store: WithOutbox) -> None:
    grant = pending()
    store.add_grant(
        grant, AuditEvent(NOW, "U0ALICE", "request.created", grant.id), requested(grant)
    )
    assert store.apply(transitions.deny(grant, actor="U0CAROL", note="", now=NOW)) is not None
    # A transition that loses writes nothing, so owes nothing.
    assert store.apply(transitions.deny(grant, actor="U0CAROL", note="", now=NOW)) is None
    owed = [o.notice for o in store.owed(limit=10)]
    # The store itself owes the requester's App Home a refresh with every change of state.
    assert [(n.kind, n.grant_id, n.detail) for n in owed] == [
        (NoticeKind.APPROVAL_REQUESTED, grant.id, ""),
        (NoticeKind.HOME_REFRESH, grant.id, "U0ALICE"),
        (NoticeKind.APPROVAL_UPDATED, grant.id, ""),
        (NoticeKind.GRANT_DENIED, grant.id, ""),
        (NoticeKind.HOME_REFRESH, grant.id, "U0ALICE"),
    ]
    first = store.owed(limit=10)[0]
    store.delivered(first.id, NOW)
    assert store.owed(limit=10)[0].notice.kind is NoticeKind.HOME_REFRESH
    refresh, _, denied, _ = store.owed(limit=10)
    store.delivered_all([refresh.id, denied.id], NOW)
    assert [o.notice.kind for o in store.owed(limit=10)] == [
        NoticeKind.APPROVAL_UPDATED,
        NoticeKind.HOME_REFRESH,
    ]


def test_a_transition_that_owes_messages_without_its_audit_event_changes_nothing(
    store: WithOutbox,
) -> None:
    grant = pending()
    seed(store, grant)
    before = len(store.owed(limit=50))
    unrecorded = replace(transitions.deny(grant, actor="U0CAROL", note="", now=NOW), event=None)
    with pytest.raises(ValueError, match="audit event"):
        store.apply(unrecorded)
    assert store.get_grant(grant.id) == grant
    assert len(store.owed(limit=50)) == before


def test_a_change_that_leaves_state_and_expiry_alone_owes_no_home_refresh(
    store: WithOutbox,
) -> None:
    grant = pending()
    seed(store, grant)
    before = len(store.owed(limit=50))
    noted = store.apply(transitions.note_approval_message(grant, channel="C1", ts="1.2"))
    assert noted is not None
    assert len(store.owed(limit=50)) == before


def test_recent_grants_of_are_the_requesters_ended_ones_latest_first(store: GrantStore) -> None:
    hour = timedelta(hours=1)
    seed(
        store,
        pending("openpend"),
        pending("oldended", status=GrantStatus.ENDED, ended_at=NOW - 3 * hour),
        pending("newdenyd", status=GrantStatus.DENIED, ended_at=NOW - hour),
        pending("midcancl", status=GrantStatus.CANCELLED, ended_at=NOW - 2 * hour),
        pending("bobended", status=GrantStatus.ENDED, ended_at=NOW, requester="U0BOB"),
        pending("activegr", status=GrantStatus.ACTIVE, expires_at=NOW + hour),
    )
    recent = store.recent_grants_of("U0ALICE", limit=10)
    assert [g.id for g in recent] == ["newdenyd", "midcancl", "oldended"]
    assert [g.id for g in store.recent_grants_of("U0ALICE", limit=2)] == ["newdenyd", "midcancl"]
    assert store.recent_grants_of("U0NOBODY", limit=10) == []


def test_grants_since_is_everything_open_at_some_time_in_the_window(store: GrantStore) -> None:
    """The audit export's read: an access requested before the window but still held (or
    still being revoked) belongs to it as much as one requested inside it."""
    since = NOW - timedelta(days=7)
    before = since - timedelta(days=1)
    seed(
        store,
        pending("newpendq", created_at=NOW),
        pending("olddenyd", status=GrantStatus.DENIED, created_at=before, ended_at=before),
        pending(
            "oldendsx",
            status=GrantStatus.ENDED,
            created_at=before - timedelta(hours=1),
            ended_at=since + timedelta(hours=1),
        ),
        pending("oldrevok", status=GrantStatus.REVOKING, created_at=before, ended_at=None),
        pending(
            "edgeendq", status=GrantStatus.TIMED_OUT, created_at=before, ended_at=since
        ),  # ended exactly at `since`: still in
    )
    found = store.grants_since(since)
    assert [g.id for g in found] == ["oldendsx", "edgeendq", "oldrevok", "newpendq"]
    assert all(g.created_at.tzinfo and (g.ended_at is None or g.ended_at.tzinfo) for g in found)
    assert store.grants_since(NOW + timedelta(days=1)) == [g for g in found if g.ended_at is None]


def test_break_glass_is_stored_decided_and_acknowledged_once(store: GrantStore) -> None:
    record = break_glass(pending("bgls2345", reason="INC-42 is on fire"), now=NOW, lease=LEASE)
    store.add_grant(record.grant, record.created, record.notices, also=(record.broken,))
    stored = store.get_grant("bgls2345")
    assert stored == record.grant and stored.break_glass
    assert stored.status is GrantStatus.ACTIVATING and stored.decided_by == "system"
    assert [e.action for e in store.audit_trail("bgls2345")] == [
        "request.created",
        "grant.break_glass",
    ]
    noted = store.apply(note_alert_message(stored, channel="C0ALERTS", ts="9.000100"))
    assert noted is not None and (noted.alert_channel, noted.alert_ts) == ("C0ALERTS", "9.000100")
    later = NOW + timedelta(minutes=1)
    first = store.apply(acknowledge(noted, actor="U0CAROL", now=later))
    assert first is not None and (first.acknowledged_by, first.acknowledged_at) == (
        "U0CAROL",
        later,
    )
    # A second approver read it before the first wrote: the guard, not the status, refuses.
    assert store.apply(acknowledge(noted, actor="U0ERIN", now=later)) is None
    assert store.get_grant("bgls2345").acknowledged_by == "U0CAROL"  # type: ignore[union-attr]
    assert [e.action for e in store.audit_trail("bgls2345")][-1] == "grant.acknowledged"


def test_votes_of_a_quorum_are_counted_against_what_they_read(store: GrantStore) -> None:
    seed(store, pending())
    first = transitions.count_approval(pending(), actor="U0CAROL", needed=3, now=NOW)
    rival = transitions.count_approval(pending(), actor="U0ERIN", needed=3, now=NOW)
    counted = store.apply(first)
    assert counted is not None and counted.approvals == ("U0CAROL",)
    assert counted.status is GrantStatus.PENDING
    assert store.apply(rival) is None  # read no votes, but one was counted meanwhile
    recount = transitions.count_approval(counted, actor="U0ERIN", needed=3, now=NOW)
    again = store.apply(recount)
    assert again is not None and again.approvals == ("U0CAROL", "U0ERIN")
    stale = transitions.approve(counted, actor="U0FRANK", note="", now=NOW, lease=LEASE, needed=3)
    assert store.apply(stale) is None
    done = transitions.approve(again, actor="U0FRANK", note="", now=NOW, lease=LEASE, needed=3)
    approved = store.apply(done)
    assert approved is not None and approved.status is GrantStatus.ACTIVATING
    assert approved.approvals == ("U0CAROL", "U0ERIN", "U0FRANK")
    assert store.get_grant(approved.id) == approved
    assert [(e.action, e.detail) for e in store.audit_trail(approved.id)][1:] == [
        ("request.approval", "1 of 3"),
        ("request.approval", "2 of 3"),
        ("request.approved", "3 of 3"),
    ]


def test_reminders_due_and_one_reminder_per_read(store: GrantStore) -> None:
    every = timedelta(minutes=30)
    posted = {"approval_channel": "C1", "approval_ts": "1.2"}
    seed(
        store,
        pending("waitsold", created_at=NOW - every, **posted),
        pending("waitsnew", created_at=NOW - every + timedelta(seconds=1), **posted),
        pending("notposted", created_at=NOW - every),
        pending("remindedr", created_at=NOW - 3 * every, reminded_at=NOW - every, **posted),
        pending("remindedn", created_at=NOW - 3 * every, reminded_at=NOW - every / 2, **posted),
        pending("timedout", created_at=NOW - 9 * every, pending_until=NOW, **posted),
        pending("decided", status=GrantStatus.DENIED, created_at=NOW - every, **posted),
    )
    due = store.reminders_due(NOW, every)
    assert {g.id for g in due} == {"waitsold", "remindedr"}
    for grant in due:
        reminded = store.apply(transitions.remind(grant, now=NOW))
        assert reminded is not None and reminded.reminded_at == NOW
        assert store.apply(transitions.remind(grant, now=NOW)) is None  # read before: stale
    assert store.reminders_due(NOW, every) == []
    assert store.reminders_due(NOW + every, every) != []
    actions = [e.action for e in store.audit_trail("remindedr")]
    assert actions == ["seed", "request.reminded"]
