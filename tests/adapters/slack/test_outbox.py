"""The outbox worker against the Slack Web API stub (real HTTP) and a real database: each
owed message is delivered once and in order per grant, survives an outage and a rate limit
(Slack's Retry-After honoured), and is given up with an audit event when Slack refuses it for
good or after the bounded time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.adapters.slack.app import web_client, work_pool
from bot.adapters.slack.delivery import SlackDelivery
from bot.adapters.slack.outbox import MAX_BACKOFF, OutboxWorker
from bot.adapters.storage.repository import SqlGrantStore
from bot.adapters.web.priority import Precedence
from bot.config import SlackSettings
from bot.domain import transitions
from bot.domain.grants import AuditEvent, Grant
from bot.policy_file import parse_policy
from tests.services.fakes import POLICY
from tests.support.clock import FakeClock
from tests.support.records import a_request
from tests.support.slack_stub import SlackStub

APPROVALS = "C0APPROVALS"


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    stub = SlackStub()
    yield stub
    stub.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def worker(store: SqlGrantStore, stub: SlackStub, clock: FakeClock) -> OutboxWorker:
    client = web_client(SlackSettings(bot_token="xoxb-test", api_url=stub.url))
    delivery = SlackDelivery(client, parse_policy(POLICY), store)
    return OutboxWorker(store, delivery, clock, give_up_after=timedelta(minutes=30))


def request(store: SqlGrantStore, clock: FakeClock, grant_id: str = "abcd2345") -> Grant:
    now = clock.now()
    grant = a_request(grant_id, now)
    event = AuditEvent(now, grant.requester, "request.created", grant.id)
    store.add_grant(grant, event, transitions.requested(grant))
    return grant


def deny(store: SqlGrantStore, clock: FakeClock, grant: Grant) -> None:
    denied = transitions.deny(grant, actor="U0CAROL", note="not now", now=clock.now())
    assert store.apply(denied) is not None


def test_each_message_once_in_order(
    store: SqlGrantStore, stub: SlackStub, worker: OutboxWorker, clock: FakeClock
) -> None:
    grant = request(store, clock)
    deny(store, clock, grant)
    # The request, its update, the DM; and two refreshes of Alice's App Home, of which the
    # first is superseded by the second (this delivery publishes no Home: no call).
    assert store.owed_count() == 5
    assert worker.run_once() == 4
    post, update, dm = stub.calls
    assert (post.method, post.args["channel"]) == ("chat.postMessage", APPROVALS)
    assert (update.method, update.args["ts"]) == ("chat.update", "1.000100")
    assert "was denied by <@U0CAROL>" in str(dm.args["text"])
    assert worker.run_once() == 0 and store.owed_count() == 0
    assert len(stub.calls) == 3, "delivered once"


def test_an_outage_delays_messages_in_order_and_they_arrive_soon_after(
    store: SqlGrantStore, stub: SlackStub, worker: OutboxWorker, clock: FakeClock
) -> None:
    grant = request(store, clock)
    stub.down = True
    worker.run_once()
    deny(store, clock, grant)
    for _ in range(8):  # minutes of outage, tried with a growing, capped backoff
        clock.advance(timedelta(seconds=40))
        worker.run_once()
    assert store.owed_count() == 5  # three messages, two Home refreshes
    tried = len(stub.calls)
    assert tried == 9, "one try per pass: the rest of a pass waits while Slack is down"
    stub.down = False
    clock.advance(MAX_BACKOFF)  # at most this long after Slack answers again
    assert worker.run_once() == 4  # the first refresh superseded by the second
    assert [c.method for c in stub.calls[tried:]] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]
    assert "was denied" in str(stub.calls[-1].args["text"])


def test_a_rate_limit_waits_as_long_as_slack_asks(
    store: SqlGrantStore, stub: SlackStub, worker: OutboxWorker, clock: FakeClock
) -> None:
    request(store, clock)
    stub.retry_after = "30"
    stub.fail("chat.postMessage", 1, status=429, error="ratelimited")
    assert worker.run_once() == 0
    clock.advance(timedelta(seconds=29))
    assert worker.run_once() == 0, "Retry-After is honoured"
    clock.advance(timedelta(seconds=1))
    assert worker.run_once() == 2  # the message, then the App Home refresh behind it


def test_a_refusal_for_good_is_given_up_with_an_audit_event(
    store: SqlGrantStore, stub: SlackStub, worker: OutboxWorker, clock: FakeClock
) -> None:
    grant = request(store, clock)
    stub.fail("chat.postMessage", 1, status=200, error="channel_not_found")
    assert worker.run_once() == 1  # not the message; the App Home refresh after it
    assert store.owed_count() == 0
    trail = store.audit_trail(grant.id)
    assert trail[-1].action == "notice.undeliverable"
    assert "channel_not_found" in trail[-1].detail


def test_a_message_slack_never_takes_is_given_up_after_the_bounded_time(
    store: SqlGrantStore, stub: SlackStub, worker: OutboxWorker, clock: FakeClock
) -> None:
    grant = request(store, clock)
    stub.down = True
    for _ in range(60):
        worker.run_once()
        clock.advance(timedelta(minutes=1))
    assert store.owed_count() == 0
    assert store.audit_trail(grant.id)[-1].action == "notice.undeliverable"


def test_of_several_home_refreshes_of_one_user_only_the_last_is_published(
    store: SqlGrantStore, stub: SlackStub, clock: FakeClock
) -> None:
    client = web_client(SlackSettings(bot_token="xoxb-test", api_url=stub.url))
    published: list[str] = []
    delivery = SlackDelivery(client, parse_policy(POLICY), store, published.append)
    worker = OutboxWorker(store, delivery, clock)
    first = request(store, clock, "abcd2345")
    request(store, clock, "efgh2345")  # Alice's second request: her Home again
    deny(store, clock, first)
    worker.run_once()
    assert published == ["U0ALICE"]
    assert store.owed_count() == 0


def test_deliveries_give_way_to_approvals_in_flight_and_then_go_on(
    store: SqlGrantStore, stub: SlackStub, clock: FakeClock
) -> None:
    """While an approval is in the decisions pool, each delivery waits its turn (boundedly);
    once it is done they go at once."""
    approvals_first = Precedence(max_wait=0.2)
    pool = work_pool(1, "decisions", goes_first=approvals_first)
    client = web_client(SlackSettings(bot_token="xoxb-test", api_url=stub.url))
    delivery = SlackDelivery(client, parse_policy(POLICY), store)
    worker = OutboxWorker(store, delivery, clock, before_each=approvals_first.wait_turn)
    request(store, clock, "abcd2345")
    request(store, clock, "abcd2346")
    release = threading.Event()
    pool.submit(release.wait, 5)  # an approval still in flight
    started = time.monotonic()
    delivered = worker.run_once()  # two approval messages, the requester's Home once
    waited = time.monotonic() - started
    assert delivered == 3 and waited >= 0.2 * delivered  # each waited its bounded turn
    release.set()
    pool.shutdown(wait=True)
    request(store, clock, "abcd2347")
    started = time.monotonic()
    assert worker.run_once() == 2  # its approval message, the Home
    assert time.monotonic() - started < 0.2  # nothing in flight: no waiting
