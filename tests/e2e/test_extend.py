"""Extend from the warning DM: the button opens a dialog, the extension goes to approval,
the grant lives longer, and the cluster agrees."""

from __future__ import annotations

import time

import pytest

from bot.adapters.slack.ids import Action, View
from tests.e2e.conftest import ALICE, ALICE_USERNAME, BOTH_TRANSPORTS, CAROL
from tests.e2e.test_grant_story import click, request_id
from tests.support.bot import BotProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kube,
    # The storage is not what these prove; the story tests cover both databases.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    BOTH_TRANSPORTS,
]


def test_extend_button_extension_approval_and_later_expiry(bot: BotProcess, kube_env) -> None:
    stub = bot.stub
    bot.slack.command(ALICE, "grant pods-read 12s ns=default")
    grant_id = request_id(bot)
    click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    warning = stub.wait_for(
        lambda: [
            c
            for c in stub.of("chat.postMessage")
            if c.args.get("channel") == ALICE and "Extend" in str(c.args.get("blocks"))
        ],
        timeout=15,
        what="warning",
    )[0]
    button = next(
        e for b in warning.args["blocks"] if b["type"] == "actions" for e in b["elements"]
    )
    assert button["action_id"] == Action.EXTEND_GRANT and button["value"] == grant_id

    bot.slack.click(ALICE, str(Action.EXTEND_GRANT), grant_id)
    opened = stub.wait_for(lambda: stub.of("views.open"), what="the extend dialog")[0]
    assert opened.args["view"]["callback_id"] == View.EXTEND
    status, body = bot.slack.submit_view(
        ALICE, str(View.EXTEND), grant_id, {"duration": {"duration_input": "forever"}}
    )
    assert status == 200 and "is not a duration" in body  # shown next to the field
    status, body = bot.slack.submit_view(
        ALICE, str(View.EXTEND), grant_id, {"duration": {"duration_input": "20s"}}
    )
    assert status == 200 and "errors" not in body
    ask = stub.wait_for(
        lambda: [
            c
            for c in stub.of("chat.postMessage")
            if c.args.get("channel") == "C0APPROVALS" and "extend" in str(c.args)
        ]
    )[0]
    ext_button = next(
        e
        for b in ask.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == Action.APPROVE_EXTENSION
    )
    assert "Extension approved" in click(bot, CAROL, Action.APPROVE_EXTENSION, ext_button["value"])
    stub.wait_for(
        lambda: [
            t for t in stub.texts(channel=ALICE) if "approved" in t.lower() and "Extension" in t
        ],
        what="the requester hears",
    )

    time.sleep(8)  # past the original 12 s
    assert kube_env.can(ALICE_USERNAME, [], "list", "pods", "default"), "extension honoured"
    deadline = time.monotonic() + 40
    while (
        kube_env.can(ALICE_USERNAME, [], "list", "pods", "default") and time.monotonic() < deadline
    ):
        time.sleep(0.3)
    assert not kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")
