"""Telling the clicker how their click went, wherever the button was.

A button in a message comes with a response_url: the answer is an ephemeral message there.
A button in the App Home has none: the answer is a DM, and the Home is published again so
it shows what the click changed.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.adapters.slack.home import HomeTab


def from_home(body: dict[str, Any]) -> bool:
    return (body.get("view") or {}).get("type") == "home"


class Answer:
    def __init__(self, client: WebClient, home: HomeTab) -> None:
        self.client = client
        self.home = home

    def __call__(self, body: dict[str, Any], respond: Respond, text: str) -> None:
        if body.get("response_url"):
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        user = body["user"]["id"]
        self.client.chat_postMessage(channel=user, text=text)
        if from_home(body):
            self.home.publish(user)
