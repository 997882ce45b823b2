"""A quorum of two on two bot processes sharing one PostgreSQL: three approvers (two of them
through a user group) click at once, several times, on both replicas. Each vote counts once,
the request is approved once, and the grant is applied once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, CAROL, ERIN, alice_can_list_pods
from tests.e2e.test_approvals import FRANK, ask
from tests.e2e.test_replicas import LEADING, audit_count
from tests.support.bot import BotProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube, pytest.mark.postgres]


def approvals_of(url: str, grant_id: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT approvals FROM grants WHERE id = :g"), {"g": grant_id}
        ).scalar()
    engine.dispose()
    return str(row or "").split()


def test_concurrent_votes_on_two_replicas_activate_once(
    kube_env, aws_auth_reset, postgres_url: str, make_bot
) -> None:
    def edit(policy: dict[str, Any]) -> None:
        policy["profiles"]["pods-read"]["approvals"] = 2

    a = make_bot(postgres_url, name="a", edit_policy=edit)
    b = make_bot(postgres_url, name="b", stub=a.stub, edit_policy=edit)
    stub = a.stub
    stub.group_members["S0ONCALL"] = [ERIN, FRANK]
    a.start()
    b.start()
    wait_until(lambda: LEADING in a.log() + b.log(), 30, "a replica leads (and delivers)")

    _, grant_id = ask(a, ALICE, "grant pods-read 1h ns=default")
    stub.wait_for(
        lambda: [c for c in stub.of("chat.postMessage") if c.args.get("channel") == "C0APPROVALS"],
        what="the approval message",
    )
    before = len(stub.responses())
    results: list[tuple[int, str]] = []

    def approve(replica: BotProcess, user: str) -> None:
        results.append(replica.slack.click(user, str(Action.APPROVE_GRANT), grant_id))

    clicks = [
        threading.Thread(target=approve, args=(r, u))
        for r in (a, b)
        for u in (CAROL, ERIN, FRANK)
        for _ in range(2)
    ]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    assert all(status == 200 for status, _ in results)
    wait_until(lambda: alice_can_list_pods(kube_env), 15, "the grant is active")
    answers = stub.wait_for(
        lambda: len(stub.responses()) >= before + 12 and stub.responses()[before:],
        what="an answer to every click",
    )
    counted = [r for r in answers if "Your approval is counted: 1 of 2" in r]
    approved = [r for r in answers if f"Approved `{grant_id}`" in r]
    refused = [r for r in answers if "already counted" in r or "already approved by" in r]
    assert (len(counted), len(approved), len(refused)) == (1, 1, 10), answers

    votes = approvals_of(postgres_url, grant_id)
    assert len(votes) == 2 and len(set(votes)) == 2 and set(votes) <= {CAROL, ERIN, FRANK}
    assert audit_count(postgres_url, grant_id, "request.approval") == 1
    assert audit_count(postgres_url, grant_id, "request.approved") == 1
    assert audit_count(postgres_url, grant_id, "grant.activated") == 1
    stub.wait_for(
        lambda: [c for c in stub.of("chat.update") if "active until" in str(c.args)],
        what="the approval message shows the grant active",
    )
    for replica in (a, b):
        assert "Traceback" not in replica.log(), replica.log()[-3000:]
