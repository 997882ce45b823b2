"""Slack-signed requests to /slack/events with response_urls we can find again in the stub.

The signing and the stub come from the test support code; only the keyed response_url is
new, so that concurrent requests can each be matched with the bot's answer.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections import defaultdict
from typing import Any

from tests.support.bot import SIGNING_SECRET, post, sign
from tests.support.slack_stub import SlackStub, flatten

REQUEST_ID = re.compile(r"Request `([a-z2-9]{8})`")


class SignedSlack:
    def __init__(self, url: str, stub: SlackStub, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.stub = stub
        self.secret = secret

    def send(self, form: dict[str, str], timeout: float = 30) -> int:
        body = urllib.parse.urlencode(form)
        ts = int(time.time())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts, self.secret),
        }
        status, _ = post(self.url, body, headers, timeout=timeout)
        return status

    def command(self, user: str, text: str, key: str) -> int:
        return self.send(
            {
                "token": "legacy",
                "team_id": "T0TEAM",
                "team_domain": "example",
                "channel_id": "C0GENERAL",
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/eks-access",
                "text": text,
                "api_app_id": "A0APP",
                "response_url": self.stub.response_url(key),
                "trigger_id": f"trigger-{key}",
            }
        )

    def click(self, user: str, action_id: str, value: str, key: str) -> int:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": "T0TEAM", "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "token": "legacy",
            "trigger_id": f"trigger-{key}",
            "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C0APPROVALS"},
            "channel": {"id": "C0APPROVALS", "name": "approvals"},
            "response_url": self.stub.response_url(key),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.send({"payload": json.dumps(payload)})


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
    for text in texts:
        match = REQUEST_ID.search(text)
        if match and "sent for approval" in text:
            return match.group(1)
    return None
