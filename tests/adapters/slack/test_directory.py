"""User-group membership over the Web API (the loopback stub), re-read after a short cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.adapters.slack.directory import SlackDirectory
from tests.support.slack_stub import SlackStub


@pytest.fixture
def stub() -> Iterator[SlackStub]:
    s = SlackStub()
    yield s
    s.close()


def test_membership_is_read_live_and_cached_briefly(stub: SlackStub) -> None:
    now = [0.0]
    directory = SlackDirectory(
        WebClient(token="xoxb-test", base_url=stub.url), ttl=30, monotonic=lambda: now[0]
    )
    stub.group_members["S0ONCALL"] = ["U0ERIN"]
    assert directory.groups_of("U0ERIN", ("S0ONCALL", "S0OTHER")) == {"S0ONCALL"}
    stub.group_members["S0ONCALL"] = []  # Erin leaves the on-call group
    now[0] = 10
    assert directory.groups_of("U0ERIN", ("S0ONCALL",)) == {"S0ONCALL"}  # within the cache
    now[0] = 31
    assert directory.groups_of("U0ERIN", ("S0ONCALL",)) == frozenset()
    calls = [c.args["usergroup"] for c in stub.of("usergroups.users.list")]
    assert calls.count("S0ONCALL") == 2


def test_fails_closed_when_slack_cannot_say(stub: SlackStub) -> None:
    directory = SlackDirectory(WebClient(token="xoxb-test", base_url=stub.url))
    stub.fail("usergroups.users.list", 1, status=200, error="plan_upgrade_required")
    assert directory.groups_of("U0ERIN", ("S0ONCALL",)) == frozenset()
