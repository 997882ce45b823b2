"""Approvals as teams run them, on real parts: the bot process reached by signed HTTP, the
Slack Web API stub recording what it sent, the real kube-apiserver proving by authorization
what is granted. A quorum of two (one approver through a user group), routing to a profile's
channel and its cluster's approvers, auto-approval (by id and by group) and reminders."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, ALICE_ARN, CAROL, DAVE, DAVE_ARN, ERIN, list_pods_status
from tests.e2e.test_grant_story import click, last_response
from tests.support.bot import BotProcess
from tests.support.slack_stub import Call, SlackStub
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]
APPROVALS = "C0APPROVALS"
PAYMENTS = "C0PAYMENTS"
FRANK = "U0FRANK"  # approver through the on-call user group, like Erin


def ask(bot: BotProcess, user: str, text: str) -> tuple[str, str]:
    """The command's answer, and the request id it names."""
    before = len(bot.stub.responses())
    bot.slack.command(user, text)
    answer = last_response(bot, before)
    match = re.search(r"Request `([a-z2-9]{8})`", answer)
    assert match, answer
    return answer, match.group(1)


def approval_message(stub: SlackStub, grant_id: str, channel: str = APPROVALS) -> Call:
    return stub.wait_for(
        lambda: [
            c
            for c in stub.of("chat.postMessage")
            if c.args.get("channel") == channel
            and grant_id in str(c.args.get("blocks"))
            and "thread_ts" not in c.args
        ],
        what=f"the approval message of {grant_id}",
    )[0]


def has_buttons(call: Call) -> bool:
    return any(b["type"] == "actions" for b in call.args.get("blocks") or [])


def updated(stub: SlackStub, text: str) -> Call:
    return stub.wait_for(
        lambda: [c for c in stub.of("chat.update") if text in str(c.args)],
        what=f"the approval message showing {text!r}",
    )[-1]


def started(make_bot: Callable[..., BotProcess], url: str, edit: Callable[..., None]) -> BotProcess:
    bot = make_bot(url, edit_policy=edit)
    bot.stub.group_members["S0ONCALL"] = [ERIN, FRANK]
    bot.stub.group_members["S0SRE"] = [ALICE]
    bot.start()
    return bot


def no_traceback(bot: BotProcess) -> None:
    assert "Traceback" not in bot.log(), bot.log()[-3000:]


def test_a_quorum_of_two_needs_two_distinct_approvers_one_by_group(
    aws_auth_reset, kube_env, sqlite_url: str, make_bot
) -> None:
    def edit(policy: dict[str, Any]) -> None:
        policy["profiles"]["pods-read"]["approvals"] = 2

    bot = started(make_bot, sqlite_url, edit)
    stub = bot.stub
    stub.group_members["S0ONCALL"].append(ALICE)  # an approver too, but never of her own
    _, grant_id = ask(bot, ALICE, "grant pods-read 1h ns=default")
    posted = approval_message(stub, grant_id)
    assert "Approvers: <@U0CAROL>, <!subteam^S0ONCALL> · 2 approvals needed" in str(posted.args)
    assert "<!subteam^S0ONCALL>" in posted.args["text"]  # the notification mentions them

    answer = click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    assert answer.startswith(":ballot_box_with_check: Your approval is counted: 1 of 2"), answer
    progress = updated(stub, "1 of 2 approvals: <@U0CAROL>")
    assert has_buttons(progress), "the request still waits: its buttons stay"
    assert "already counted (1 of 2)" in click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    assert "cannot approve or deny your own" in click(bot, ALICE, Action.APPROVE_GRANT, grant_id)
    time.sleep(1)
    assert list_pods_status(kube_env, ALICE_ARN) in (401, 403), "one vote grants nothing"

    answer = click(bot, ERIN, Action.APPROVE_GRANT, grant_id)  # Erin: through S0ONCALL
    assert f"Approved `{grant_id}`: active until" in answer
    wait_until(lambda: list_pods_status(kube_env, ALICE_ARN) == 200, 15, "Alice lists pods")
    done = updated(stub, "Approved by <@U0CAROL> and <@U0ERIN>")
    assert not has_buttons(done)
    assert "already approved by <@U0ERIN>" in click(bot, FRANK, Action.APPROVE_GRANT, grant_id)
    no_traceback(bot)


def test_routing_to_the_profile_s_channel_and_its_cluster_s_approvers(
    aws_auth_reset, kube_env, sqlite_url: str, make_bot
) -> None:
    def edit(policy: dict[str, Any]) -> None:
        profile = policy["profiles"]["payments-view"]
        profile["approval_channel"] = PAYMENTS
        profile["approvers"] = {"dev": ["S0ONCALL"], "*": [CAROL]}

    bot = started(make_bot, sqlite_url, edit)
    stub = bot.stub
    _, grant_id = ask(bot, DAVE, "grant payments-view 1h")
    posted = approval_message(stub, grant_id, channel=PAYMENTS)
    assert has_buttons(posted)
    assert "Approvers: <!subteam^S0ONCALL>" in str(posted.args) and CAROL not in str(posted.args)
    assert not [c for c in stub.of("chat.postMessage") if c.args.get("channel") == APPROVALS]

    refused = click(bot, CAROL, Action.APPROVE_GRANT, grant_id)  # approves elsewhere, not dev
    assert "not an approver of `payments-view`; its approvers are <!subteam^S0ONCALL>" in refused
    assert "Approved" in click(bot, FRANK, Action.APPROVE_GRANT, grant_id)
    wait_until(
        lambda: list_pods_status(kube_env, DAVE_ARN, "dave", ns="payments") == 200,
        15,
        "Dave lists pods in payments",
    )
    updated(stub, "Approved by <@U0FRANK>")  # the message in the profile's channel

    before = len(stub.responses())
    bot.slack.command(DAVE, f"extend {grant_id} 30m")
    assert "sent for approval" in last_response(bot, before)
    stub.wait_for(
        lambda: [
            c
            for c in stub.of("chat.postMessage")
            if c.args.get("channel") == PAYMENTS and "extend" in str(c.args)
        ],
        what="the extension request in the profile's channel",
    )
    no_traceback(bot)


def test_auto_approval_by_id_and_by_group_within_its_max_duration(
    aws_auth_reset, kube_env, sqlite_url: str, make_bot
) -> None:
    def edit(policy: dict[str, Any]) -> None:
        rule = {"requesters": ["S0SRE", DAVE], "max_duration": "1h"}
        policy["profiles"]["pods-read"]["auto_approve"] = rule

    bot = started(make_bot, sqlite_url, edit)
    stub = bot.stub
    answer, longer = ask(bot, ALICE, "grant pods-read 2h ns=default")  # past the rule's 1h
    assert "sent for approval" in answer
    assert has_buttons(approval_message(stub, longer))
    time.sleep(1)
    assert list_pods_status(kube_env, ALICE_ARN) in (401, 403)
    before = len(stub.responses())
    bot.slack.command(ALICE, f"revoke {longer}")
    assert "withdrawn" in last_response(bot, before)

    signed_in: list[tuple[str, str, str | None]] = [
        (DAVE, DAVE_ARN, "dave"),
        (ALICE, ALICE_ARN, None),
    ]
    for user, arn, session in signed_in:  # by id, then through S0SRE
        answer, grant_id = ask(bot, user, "grant pods-read 30m ns=default")
        assert f"Request `{grant_id}` was auto-approved by rule" in answer, answer

        def lists(arn: str = arn, session: str | None = session) -> bool:
            return list_pods_status(kube_env, arn, session) == 200

        wait_until(lists, 15, f"{user} lists pods")
        info = approval_message(stub, grant_id)
        assert not has_buttons(info), "nothing to decide: an information message"
        assert "Auto-approved by rule" in str(info.args)
        dm = stub.wait_for(
            lambda user=user: [t for t in stub.texts(channel=user) if "is active until" in t],
            what="the active DM",
        )[-1]
        assert "auto-approved by rule" in dm
    no_traceback(bot)


def test_reminders_in_the_approval_thread_until_the_request_times_out(
    aws_auth_reset, sqlite_url: str, make_bot
) -> None:
    def edit(policy: dict[str, Any]) -> None:
        policy["profiles"]["pods-read"] |= {"remind_after": "3s", "pending_timeout": "8s"}

    bot = started(make_bot, sqlite_url, edit)
    stub = bot.stub
    _, grant_id = ask(bot, ALICE, "grant pods-read 1h ns=default")
    approval_message(stub, grant_id)

    def reminders() -> list[Call]:
        return [c for c in stub.of("chat.postMessage") if c.args.get("thread_ts")]

    first = stub.wait_for(reminders, timeout=10, what="a reminder")[0]
    assert first.args["channel"] == APPROVALS
    assert first.args["text"].startswith(":bell: <@U0CAROL>, <!subteam^S0ONCALL>: request")
    assert (
        f"`{grant_id}`" in first.args["text"] and "still waits for a decision" in first.args["text"]
    )
    stub.wait_for(
        lambda: [t for t in stub.texts(channel=ALICE) if "got no decision in time" in t],
        timeout=15,
        what="the time-out",
    )
    count = len(reminders())
    time.sleep(4)  # past another remind_after: a timed-out request is not reminded of
    assert len(reminders()) == count and 1 <= count <= 2, [c.args for c in reminders()]
    gaps = [b.at - a.at for a, b in zip(reminders(), reminders()[1:], strict=False)]
    assert all(gap >= 2.5 for gap in gaps), gaps  # at most once per remind_after
    closed = updated(stub, "Timed out without a decision")  # the approval message itself
    assert {c.args["thread_ts"] for c in reminders()} == {closed.args["ts"]}
    no_traceback(bot)
