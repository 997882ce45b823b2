"""A clean stop, as Kubernetes, Heroku and App Engine ask for one: SIGTERM ends the process
with 0 within the grace time, after the scheduler lock is released, so the other replica takes
over at once instead of after the dead session's timeout."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.conftest import ALICE
from tests.e2e.test_grant_story import request_id
from tests.e2e.test_replicas import LEADING
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube, pytest.mark.postgres]


def test_sigterm_finishes_in_flight_work_releases_the_lock_and_exits_0(
    kube_env, aws_auth_reset, postgres_url: str, make_bot
) -> None:
    a = make_bot(postgres_url, name="a")
    b = make_bot(postgres_url, name="b", stub=a.stub)
    a.start()
    wait_until(lambda: LEADING in a.log(), 30, "the first replica leads")
    b.start()
    time.sleep(2)
    assert LEADING not in b.log()
    a.slack.command(ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(a)  # answered before the stop
    stopped = time.monotonic()
    a.kill(signal.SIGTERM)
    assert a.wait_exit(15) == 0, a.log()[-2000:]
    assert time.monotonic() - stopped < 12, "at most the 10 s grace"
    log = a.log()
    assert "eks-access stopping (SIGTERM)" in log and "eks-access stopped" in log
    assert "Traceback" not in log, log[-3000:]
    # The lock was released, not left to the session's end: B leads at its next tick.
    wait_until(lambda: LEADING in b.log(), 5, "the other replica takes over")
    # The request made before the stop is not lost: B's outbox posts its approval message.
    b.stub.wait_for(
        lambda: [
            c
            for c in b.stub.of("chat.postMessage")
            if c.args.get("channel") == "C0APPROVALS" and grant_id in str(c.args.get("blocks"))
        ],
        timeout=15,
        what="the approval message",
    )
