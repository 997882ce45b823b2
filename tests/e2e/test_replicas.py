"""Two bot processes against one PostgreSQL: requests and clicks land on either; exactly one
runs the scheduler; when it dies the other takes over; nothing happens twice."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, CAROL, ERIN, alice_can_list_pods
from tests.e2e.test_grant_story import aws_auth, request_id
from tests.support.bot import BotProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube, pytest.mark.postgres]
LEADING = "this replica now runs the scheduler"


def audit_count(url: str, grant_id: str, action: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE grant_id = :g AND action = :a"),
            {"g": grant_id, "a": action},
        ).scalar()
    engine.dispose()
    return int(n or 0)


def test_two_replicas_one_scheduler_failover_and_no_double_effects(
    kube_env, aws_auth_reset, postgres_url: str, make_bot
) -> None:
    a = make_bot(postgres_url, name="a")
    b = make_bot(postgres_url, name="b", stub=a.stub)
    stub = a.stub
    can_list = lambda: alice_can_list_pods(kube_env)  # noqa: E731
    a.start()
    # The lock is per database: a bot of an earlier test may hold it until its session ends.
    wait_until(lambda: LEADING in a.log(), 30, "the first replica leads")
    b.start()
    time.sleep(3)
    assert LEADING not in b.log(), "only one replica may run the scheduler"

    a.slack.command(ALICE, "grant pods-read 15s ns=default")  # lands on A
    grant_id = request_id(a)
    results: list[tuple[int, str]] = []

    def approve(replica: BotProcess, user: str) -> None:
        results.append(replica.slack.click(user, str(Action.APPROVE_GRANT), grant_id))

    clicks = [
        threading.Thread(target=approve, args=(r, u))
        for r, u in [(a, CAROL), (b, CAROL), (a, ERIN), (b, ERIN)] * 3
    ]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join()
    assert all(status == 200 for status, _ in results)
    wait_until(can_list, 10, "the grant is active")
    answers = stub.wait_for(lambda: len(stub.responses()) >= 13 and stub.responses())
    assert sum("Approved" in r for r in answers) == 1, answers
    assert sum("already approved by" in r for r in answers) == 11, answers
    assert audit_count(postgres_url, grant_id, "request.approved") == 1
    assert audit_count(postgres_url, grant_id, "grant.activated") == 1

    a.kill()  # the leader dies (SIGKILL) while the grant is active
    wait_until(lambda: LEADING in b.log(), 10, "the other replica takes over")
    wait_until(lambda: not can_list(), 40, "the survivor revokes at expiry")
    wait_until(lambda: aws_auth(kube_env) == aws_auth_reset, 10, "mapping removed")
    time.sleep(2)
    assert audit_count(postgres_url, grant_id, "grant.expired") == 1
    assert audit_count(postgres_url, grant_id, "grant.ended") == 1
    assert len([t for t in stub.texts(channel=ALICE) if "has expired" in t]) == 1
