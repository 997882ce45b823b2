"""The break-glass announcement against the Slack Web API stub and a real database: posted
in the approval and alert channels (once when they are one channel), never twice on a
repeated delivery, and both messages updated with the grant."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.slack.app import web_client
from bot.adapters.slack.delivery import SlackDelivery
from bot.adapters.storage.repository import SqlGrantStore
from bot.config import SlackSettings
from bot.domain.break_glass import acknowledge, break_glass
from bot.domain.grants import Grant
from bot.domain.notices import Notice, NoticeKind
from bot.policy_file import parse_policy
from tests.services.fakes import POLICY
from tests.support.clock import FakeClock
from tests.support.records import a_request
from tests.support.slack_stub import SlackStub


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    stub = SlackStub()
    yield stub
    stub.close()


def delivery(stub: SlackStub, store: SqlGrantStore, alerts: str | None) -> SlackDelivery:
    doc: dict[str, Any] = copy.deepcopy(POLICY)
    doc["profiles"]["pods-read"] |= {"break_glass": True, "approval_channel": "C0ONCALL"}
    if alerts:
        doc["slack"]["alert_channel"] = alerts
    client = web_client(SlackSettings(bot_token="xoxb-test", api_url=stub.url))
    return SlackDelivery(client, parse_policy(doc), store)


def stored(store: SqlGrantStore) -> Grant:
    now = FakeClock().now()
    record = break_glass(
        a_request("bgls2345", now, reason="INC-42 down"), now=now, lease=timedelta(0)
    )
    store.add_grant(record.grant, record.created, record.notices, also=(record.broken,))
    return record.grant


def posts(stub: SlackStub) -> list[str]:
    return [str(c.args["channel"]) for c in stub.of("chat.postMessage")]


def test_announced_in_both_channels_once_even_when_delivered_again(
    store: SqlGrantStore, stub: SlackStub
) -> None:
    slack = delivery(stub, store, alerts="C0ALERTS")
    grant = stored(store)
    announce = Notice(NoticeKind.BREAK_GLASS, grant.id)
    slack.deliver(announce)
    slack.deliver(announce)  # the outbox did not hear Slack's answer: delivered again
    assert posts(stub) == ["C0ONCALL", "C0ALERTS"]  # the profile's approval channel, and alerts
    noted = store.get_grant(grant.id)
    assert noted is not None
    assert (noted.approval_channel, noted.alert_channel) == ("C0ONCALL", "C0ALERTS")
    assert noted.approval_ts != noted.alert_ts

    store.apply(acknowledge(noted, actor="U0CAROL", now=FakeClock().now()))
    slack.deliver(Notice(NoticeKind.APPROVAL_UPDATED, grant.id))
    updates = stub.of("chat.update")
    assert [(u.args["channel"], u.args["ts"]) for u in updates] == [
        ("C0ONCALL", noted.approval_ts),
        ("C0ALERTS", noted.alert_ts),
    ]
    assert all("Acknowledged by <@U0CAROL>" in str(u.args["blocks"]) for u in updates)


def test_one_message_when_the_alert_channel_is_the_approval_channel(
    store: SqlGrantStore, stub: SlackStub
) -> None:
    slack = delivery(stub, store, alerts="C0ONCALL")
    grant = stored(store)
    slack.deliver(Notice(NoticeKind.BREAK_GLASS, grant.id))
    slack.deliver(Notice(NoticeKind.BREAK_GLASS, grant.id))
    assert posts(stub) == ["C0ONCALL"]
    slack.deliver(Notice(NoticeKind.APPROVAL_UPDATED, grant.id))
    assert [u.args["channel"] for u in stub.of("chat.update")] == ["C0ONCALL"]
    assert "<!here>" in str(stub.of("chat.postMessage")[0].args["text"])


def test_the_requester_hears_of_a_slow_cluster_without_an_approver_named(
    store: SqlGrantStore, stub: SlackStub
) -> None:
    slack = delivery(stub, store, alerts=None)
    grant = stored(store)
    slack.deliver(Notice(NoticeKind.GRANT_DELAYED, grant.id))
    (dm,) = stub.texts(channel=grant.requester)
    assert "Your break-glass `bgls2345` for *pods-read* was announced" in dm
    assert "approved by" not in dm
