"""The App Home, Revoke now and the approval thread on real parts: signed HTTP (and Events
API callbacks) into the bot process, the Slack stub holding the Homes it published, and the
real kube-apiserver proving that Revoke ends access."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import (
    ALICE,
    ALICE_USERNAME,
    BOTH_TRANSPORTS,
    CAROL,
    alice_can_list_pods,
)
from tests.support.bot import BotProcess
from tests.support.dialog import buttons, texts
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]


def request(bot: BotProcess, text: str = "grant pods-read 1h ns=default INC-42") -> str:
    before = len(bot.stub.responses())
    bot.slack.command(ALICE, text)
    answer = bot.stub.wait_for(
        lambda: [r for r in bot.stub.responses()[before:] if "sent for approval" in r],
        what="the request confirmation",
    )[0]
    match = re.search(r"Request `([a-z2-9]{8})`", answer)
    assert match, answer
    return match.group(1)


def home_with(bot: BotProcess, user: str, wanted: tuple[str, str, str]) -> dict[str, Any]:
    """The user's Home once it shows the button `wanted` (label, action, value)."""
    return bot.stub.wait_for(
        lambda: (home := bot.stub.homes.get(user)) and wanted in buttons(home) and home,
        what=f"{user}'s Home with {wanted[0]}",
    )


def home_without(bot: BotProcess, user: str, unwanted: tuple[str, str, str]) -> dict[str, Any]:
    return bot.stub.wait_for(
        lambda: (home := bot.stub.homes.get(user)) and unwanted not in buttons(home) and home,
        what=f"{user}'s Home without {unwanted[0]}",
    )


def dm(bot: BotProcess, user: str, fragment: str) -> str:
    return bot.stub.wait_for(
        lambda: [t for t in bot.stub.texts(channel=user) if fragment in t], what=f"a DM: {fragment}"
    )[-1]


def test_approve_and_revoke_from_the_home(bot: BotProcess, kube_env) -> None:
    grant_id = request(bot)
    assert bot.slack.open_home(CAROL)[0] == 200
    carols = home_with(bot, CAROL, ("Approve", Action.APPROVE_GRANT, grant_id))
    assert ("Deny", Action.DENY_GRANT, grant_id) in buttons(carols)
    assert "<@U0ALICE> asks for *pods-read*" in texts(carols)
    bot.slack.open_home(ALICE)
    home_with(bot, ALICE, ("Withdraw", Action.WITHDRAW_REQUEST, grant_id))

    status, _ = bot.slack.click_in_view(CAROL, str(Action.APPROVE_GRANT), carols, value=grant_id)
    assert status == 200
    assert dm(bot, CAROL, "Approved").startswith(f":white_check_mark: Approved `{grant_id}`")
    home_without(bot, CAROL, ("Approve", Action.APPROVE_GRANT, grant_id))
    wait_until(lambda: alice_can_list_pods(kube_env), 15, "Alice lists pods as herself")
    # Nobody clicked in Alice's Home: the outbox refreshed it when her grant became active.
    alices = home_with(bot, ALICE, ("Extend", Action.EXTEND_GRANT, grant_id))
    assert ("Revoke", Action.REVOKE_GRANT, grant_id) in buttons(alices)
    assert "left (until" in texts(alices)

    bot.slack.click_in_view(ALICE, str(Action.REVOKE_GRANT), alices, value=grant_id)
    assert "revoked: the RoleBinding is gone" in dm(bot, ALICE, "RoleBinding is gone")
    assert not kube_env.settled_can(ALICE_USERNAME, [], "list", "pods", "default", expect=False)
    wait_until(lambda: not alice_can_list_pods(kube_env), 10, "Alice's own token stops working")
    ended = home_without(bot, ALICE, ("Revoke", Action.REVOKE_GRANT, grant_id))
    assert "Recently ended" in texts(ended) and grant_id in texts(ended)

    # The same stale Home clicked again: told, nothing applied twice.
    bot.slack.click_in_view(ALICE, str(Action.REVOKE_GRANT), alices, value=grant_id)
    assert dm(bot, ALICE, "already") == f":warning: `{grant_id}` is already ended."
    bot.slack.click_in_view(CAROL, str(Action.APPROVE_GRANT), carols, value=grant_id)
    assert dm(bot, CAROL, "already") == (
        f":warning: Request `{grant_id}` was already approved by <@U0CAROL>."
    )


@BOTH_TRANSPORTS  # the Events API callback as an envelope on the socket, too
def test_withdraw_from_the_home_twice(bot: BotProcess) -> None:
    grant_id = request(bot)
    bot.slack.open_home(ALICE)
    stale = home_with(bot, ALICE, ("Withdraw", Action.WITHDRAW_REQUEST, grant_id))
    bot.slack.click_in_view(ALICE, str(Action.WITHDRAW_REQUEST), stale, value=grant_id)
    assert dm(bot, ALICE, "withdrawn") == f":wastebasket: Request `{grant_id}` withdrawn."
    home_without(bot, ALICE, ("Withdraw", Action.WITHDRAW_REQUEST, grant_id))
    bot.slack.click_in_view(ALICE, str(Action.WITHDRAW_REQUEST), stale, value=grant_id)
    assert dm(bot, ALICE, "already") == (
        f":warning: Request `{grant_id}` was already withdrawn by the requester."
    )
    bot.stub.wait_for(
        lambda: [c for c in bot.stub.of("chat.update") if "Withdrawn by" in str(c.args)],
        what="the approval message showing the withdrawal",
    )


def test_revoke_now_ends_access_and_the_thread_tells_each_step(bot: BotProcess, kube_env) -> None:
    stub = bot.stub
    grant_id = request(bot)
    bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    wait_until(lambda: alice_can_list_pods(kube_env), 15, "Alice lists pods as herself")
    active = stub.wait_for(
        lambda: [
            c
            for c in stub.of("chat.postMessage")
            if c.args.get("channel") == ALICE and "is active until" in str(c.args)
        ],
        what="the access-is-active DM",
    )[0]
    assert ("Revoke now", Action.REVOKE_GRANT, grant_id) in buttons(active.args)
    before = len(stub.responses())
    bot.slack.click(ALICE, str(Action.REVOKE_GRANT), grant_id)
    answer = stub.wait_for(lambda: stub.responses()[before:], what="the ephemeral answer")[0]
    assert f"`{grant_id}` revoked" in answer
    wait_until(lambda: not alice_can_list_pods(kube_env), 10, "Alice's own token stops working")
    thread = stub.wait_for(
        lambda: (
            (replies := [c for c in stub.of("chat.postMessage") if c.args.get("thread_ts")])
            and len(replies) >= 2
            and replies
        ),
        what="the thread's replies",
    )
    ts = stub.of("chat.update")[0].args["ts"]
    assert {(c.args["channel"], c.args["thread_ts"]) for c in thread} == {("C0APPROVALS", ts)}
    assert [c.args["text"].split(":")[1] for c in thread] == ["white_check_mark", "lock"]
    assert thread[1].args["text"] == ":lock: Revoked by <@U0ALICE>; access has ended."
    before = len(stub.responses())
    bot.slack.click(ALICE, str(Action.REVOKE_GRANT), grant_id)  # a double click
    again = stub.wait_for(lambda: stub.responses()[before:], what="the second answer")[0]
    assert again == f":warning: `{grant_id}` is already ended."
