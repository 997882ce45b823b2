"""The store on real SQLite and PostgreSQL: conditional updates win once, audit in the same
transaction, timestamps stay timezone-aware."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.adapters.storage.repository import SqlGrantStore
from bot.domain.grants import AuditEvent, Grant, GrantStatus

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def pending(grant_id: str = "abcd2345") -> Grant:
    return Grant(
        id=grant_id,
        requester="U0ALICE",
        principal_arn="arn:aws:iam::1:user/a",
        profile="pods-read",
        cluster="dev",
        namespace="default",
        duration=timedelta(hours=2),
        reason="INC-42",
        status=GrantStatus.PENDING,
        created_at=NOW,
        pending_until=NOW + timedelta(hours=4),
    )


def test_round_trip_and_conditional_update(store: SqlGrantStore) -> None:
    store.add_grant(pending(), AuditEvent(NOW, "U0ALICE", "request.created", "abcd2345"))
    assert store.get_grant("abcd2345") == pending()
    approved = store.update_grant(
        "abcd2345",
        expect={GrantStatus.PENDING},
        changes={"status": GrantStatus.ACTIVATING, "expires_at": NOW + timedelta(hours=2)},
        event=AuditEvent(NOW, "U0CAROL", "request.approved", "abcd2345"),
    )
    assert approved is not None and approved.status is GrantStatus.ACTIVATING
    assert approved.expires_at == NOW + timedelta(hours=2) and approved.expires_at.tzinfo
    assert (
        store.update_grant(
            "abcd2345", expect={GrantStatus.PENDING}, changes={"status": GrantStatus.DENIED}
        )
        is None
    )
    assert [e.action for e in store.audit_trail("abcd2345")] == [
        "request.created",
        "request.approved",
    ]


def test_concurrent_conditional_updates_have_one_winner(store: SqlGrantStore) -> None:
    store.add_grant(pending(), AuditEvent(NOW, "U0ALICE", "request.created", "abcd2345"))
    winners: list[str] = []

    def decide(actor: str) -> None:
        if store.update_grant(
            "abcd2345",
            expect={GrantStatus.PENDING},
            changes={"status": GrantStatus.ACTIVATING, "decided_by": actor},
            event=AuditEvent(NOW, actor, "request.approved", "abcd2345"),
        ):
            winners.append(actor)

    threads = [threading.Thread(target=decide, args=(f"U{i:04d}",)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get_grant("abcd2345").decided_by == winners[0]
    actions = [e.action for e in store.audit_trail("abcd2345")]
    assert actions.count("request.approved") == 1


def test_queries_used_by_the_sweep(store: SqlGrantStore) -> None:
    for i, status in enumerate([GrantStatus.ACTIVE, GrantStatus.ACTIVE, GrantStatus.ENDED]):
        grant = pending(f"grant{'abc'[i]}xyz").evolve(
            status=status, expires_at=NOW + timedelta(minutes=i)
        )
        store.add_grant(grant, AuditEvent(NOW, "system", "seed", grant.id))
    due = store.find_grants(statuses={GrantStatus.ACTIVE}, expires_before=NOW)
    assert [g.id for g in due] == ["grantaxyz"]
    warn = store.find_warn_due(NOW, timedelta(minutes=5))
    assert {g.id for g in warn} == {"grantaxyz", "grantbxyz"}
