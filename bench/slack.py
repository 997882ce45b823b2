"""Slack-signed requests to /slack/events with response_urls we can find again in the stub.

The signing and the stub come from the test support code; only the keyed response_url is
new, so that concurrent requests can each be matched with the bot's answer.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any

from bot.domain.ids import looks_like_id
from tests.support.bot import SlackSender
from tests.support.slack_stub import SlackStub, flatten

#: How the bot's answer to `grant` names the request (bot.adapters.slack.replies).
REQUEST_ID = re.compile(r"Request `([^`]+)` sent for approval")


class SignedSlack(SlackSender):
    """The test harness's signed sender, answering with the HTTP status only, and with a
    key on every response_url so concurrent requests can each be matched with the answer."""

    def command(self, user: str, text: str, key: str | None = None, **kw: Any) -> int:  # type: ignore[override]
        return super().command(user, text, key=key, timeout=30, **kw)[0]

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        key: str | None = None,  # type: ignore[override]
        **kw: Any,
    ) -> int:
        return super().click(user, action_id, value, key=key, timeout=30, **kw)[0]


def responses(stub: SlackStub) -> dict[str, list[str]]:
    """Every response_url answer so far, by key (the part after /response/)."""
    out: dict[str, list[str]] = defaultdict(list)
    calls = list(stub.calls)  # a snapshot; appends from the stub's threads are atomic
    for call in calls:
        if call.method.startswith("response/"):
            out[call.method.removeprefix("response/")].append(flatten(call.args))
    return out


def wait_responses(
    stub: SlackStub, keys: list[str], timeout: float, poll: float = 0.05
) -> dict[str, list[str]]:
    """Wait (at most `timeout` seconds) until each key has an answer; returns what came."""
    deadline = time.monotonic() + timeout
    while True:
        got = responses(stub)
        if all(k in got for k in keys) or time.monotonic() >= deadline:
            return {k: got[k] for k in keys if k in got}
        time.sleep(poll)


def request_id(texts: list[str]) -> str | None:
    """The id of the request the bot's answers say was sent for approval, if any."""
    for text in texts:
        match = REQUEST_ID.search(text)
        if match and looks_like_id(match.group(1)):
            return match.group(1)
    return None
