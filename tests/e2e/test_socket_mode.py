"""Socket Mode on a real wire: the bot process opens a WebSocket to a loopback twin of Slack's
Socket Mode server, with the URL the Web API stub hands to its app-level token, and answers
each envelope with an acknowledgement. The grant story itself runs on this wire too: the
story, extend and bad-input tests take both transports (tests.e2e.conftest.BOTH_TRANSPORTS),
and the `bot` fixture checks that every envelope was acknowledged once, within 3 s."""

from __future__ import annotations

import json
import signal
import socket
import urllib.request

import pytest

from bot.adapters.slack.ids import Action, Field, View
from tests.e2e.conftest import ALICE, CAROL, DAVE
from tests.e2e.test_grant_story import last_response, request_id
from tests.support.bot import APP_TOKEN, BotProcess
from tests.support.socket_mode import SocketModeServer
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.kube,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.parametrize("transport", ["socket_mode"], indirect=True),
]


def server_of(bot: BotProcess) -> SocketModeServer:
    assert bot.socket_mode is not None
    return bot.socket_mode


def test_connects_with_the_app_token_serves_no_slack_endpoint_and_stops_cleanly(
    bot: BotProcess,
) -> None:
    server = server_of(bot)
    (opened,) = bot.stub.of("apps.connections.open")
    assert opened.token == APP_TOKEN  # the app-level token, in the Authorization header
    web_api = [c for c in bot.stub.calls if not c.method.startswith("response/")]
    assert {c.token for c in web_api if c is not opened} == {"xoxb-test"}  # auth.test, ...
    assert server.tickets_issued == 1 and server.open_connections == 1

    # Operations on METRICS_PORT; no listener for Slack on PORT, nor anywhere else.
    assert bot.healthz() == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{bot.port}/metrics", timeout=5) as r:
        assert "eks_access_grants" in r.read().decode()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(bot.env["PORT"])), timeout=2).close()

    before = len(bot.stub.responses())
    status, body = bot.slack.command(ALICE, "help")
    assert (status, body) == (200, "")  # a bare ack: the answer goes to the response_url
    assert "/eks-access grant <profile> <duration>" in last_response(bot, before)

    bot.kill(signal.SIGTERM)
    assert bot.wait_exit(15) == 0, bot.log()[-2000:]
    assert "eks-access stopped" in bot.log()
    wait_until(lambda: server.open_connections == 0, 5, "the bot closes its connection")


def test_a_modal_refusal_is_the_acknowledgement_payload(bot: BotProcess) -> None:
    bot.slack.command(ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(bot)
    status, body = bot.slack.submit_view(
        DAVE, str(View.DENY_REASON), f"grant:{grant_id}", {"reason": {"reason_input": "no"}}
    )
    refusal = {
        "response_action": "errors",
        "errors": {
            Field.REASON_BLOCK: "You are not an approver of `pods-read`; its approvers are "
            "U0CAROL, group S0ONCALL."
        },
    }
    assert (status, json.loads(body)) == (200, refusal)
    # What Slack shows under the field travels in the ack of the view_submission envelope.
    (envelope,) = [e for e in server_of(bot).envelopes.values() if e.type == "interactive"]
    assert envelope.payload["type"] == "view_submission"
    assert [payload for _, payload in envelope.acks] == [refusal]
    assert "Approved" in click_approve(bot, grant_id)  # still pending: the refusal changed nothing


def click_approve(bot: BotProcess, grant_id: str) -> str:
    before = len(bot.stub.responses())
    status, body = bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    assert (status, body) == (200, "")
    return last_response(bot, before)


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_moves_to_a_fresh_connection_when_slack_asks(bot: BotProcess, reason: str) -> None:
    server = server_of(bot)
    old = server.ask_to_reconnect(reason)
    # A second apps.connections.open (the first ticket is spent), then the new connection.
    new = server.wait_connected(newer_than=1)
    assert new is not old and server.tickets_issued == 2
    assert [c.token for c in bot.stub.of("apps.connections.open")] == [APP_TOKEN, APP_TOKEN]
    wait_until(lambda: server.open_connections == 1, 10, "the bot leaves the old connection")

    bot.slack.command(ALICE, "grant pods-read 1h ns=default")  # sent on the new connection
    assert "Approved" in click_approve(bot, request_id(bot))
