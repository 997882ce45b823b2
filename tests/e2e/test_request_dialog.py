"""The request dialog on real parts: signed HTTP into the bot process, the Slack stub
holding the modal it opened and drew, and the real kube-apiserver proving that a request
made through the dialog becomes access after approval."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.slack.ids import Action, Field, View
from tests.e2e.conftest import ALICE, CAROL, DAVE, alice_can_list_pods
from tests.support.bot import BotProcess
from tests.support.dialog import filled_in, initial, options
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]


def drawn(bot: BotProcess, profile: str) -> dict[str, Any]:
    """The open modal, once the bot has drawn it for `profile`."""
    return bot.stub.wait_for(
        lambda: next(
            (v for v in bot.stub.views.values() if v.get("private_metadata") == profile), None
        ),
        what=f"the request dialog drawn for {profile}",
    )


def submit(bot: BotProcess, user: str, drawn_for: str, **fill: Any) -> dict[str, Any]:
    """Submits the dialog drawn for `drawn_for` (the profile chosen too, unless `profile`)."""
    status, body = bot.slack.submit_view(
        user, str(View.REQUEST_ACCESS), drawn_for, {}, state=filled_in(drawn_for, **fill)
    )
    assert status == 200
    return json.loads(body) if body else {}


def test_a_request_from_the_dialog_is_access_after_approval(bot: BotProcess, kube_env) -> None:
    stub = bot.stub
    status, body = bot.slack.command(ALICE, "", key="bare")
    assert (status, body) == (200, "")
    view = drawn(bot, "pods-read")
    assert stub.of("views.open")[0].args["trigger_id"] == "trigger-bare"
    assert options(view, Field.PROFILE) == ["pods-read"]  # payments-view is Dave's alone
    assert (options(view, Field.CLUSTER), initial(view, Field.CLUSTER)) == (["dev"], "dev")
    assert initial(view, Field.NAMESPACE) == "default"
    assert options(view, Field.DURATION_CHOICE) == ["15m", "30m", "1h", "2h", "4h"]

    answer = submit(
        bot, ALICE, "pods-read", duration=timedelta(hours=1), namespace="default", reason="INC-42"
    )
    assert answer == {}
    dm = stub.wait_for(
        lambda: [t for t in stub.texts(channel=ALICE) if "sent for approval" in t],
        what="the confirmation DM",
    )[0]
    grant_id = dm.split("`")[1]
    approval = stub.wait_for(
        lambda: [c for c in stub.of("chat.postMessage") if c.args.get("channel") == "C0APPROVALS"],
        what="the approval message",
    )[0]
    assert "INC-42" in json.dumps(approval.args["blocks"]) and grant_id in json.dumps(approval.args)
    assert not alice_can_list_pods(kube_env)

    bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    wait_until(lambda: alice_can_list_pods(kube_env), 15, "Alice lists pods as herself")
    thread = stub.wait_for(
        lambda: [c for c in stub.of("chat.postMessage") if c.args.get("thread_ts")],
        what="the thread's reply",
    )
    # In the approval message's thread: the message its updates name.
    updated = stub.wait_for(lambda: stub.of("chat.update"), what="the approval message update")
    assert (thread[0].args["channel"], thread[0].args["thread_ts"]) == (
        "C0APPROVALS",
        updated[0].args["ts"],
    )
    assert "Active: <@U0ALICE>" in thread[0].args["text"]


def test_choosing_a_profile_redraws_the_dialog_with_its_choices(
    make_bot, database_url: str, aws_auth_reset
) -> None:
    def payments_for_a_group(policy: dict[str, Any]) -> None:
        policy["profiles"]["payments-view"]["requesters"] = ["S0PAYMENTS"]
        policy["profiles"]["payments-view"]["durations"] = ["30m", "2h"]

    bot = make_bot(database_url, edit_policy=payments_for_a_group)
    bot.stub.group_members["S0PAYMENTS"] = [DAVE]
    bot.start()
    bot.slack.shortcut(DAVE)
    first = drawn(bot, "pods-read")
    # A requester named by a Slack user group sees the profile among those offered.
    assert options(first, Field.PROFILE) == ["pods-read", "payments-view"]
    status, _ = bot.slack.click_in_view(
        DAVE, str(Action.CHOOSE_PROFILE), first, selected="payments-view"
    )
    assert status == 200
    view = drawn(bot, "payments-view")
    update = bot.stub.of("views.update")[-1]
    assert update.args["hash"] == first["hash"]  # the hash of the view the choice was made in
    assert options(view, Field.NAMESPACE) == ["payments"]
    assert options(view, Field.DURATION_CHOICE) == ["30m", "2h"]
    assert submit(bot, DAVE, "payments-view", duration=timedelta(minutes=30)) == {}

    bot.slack.shortcut(ALICE)  # not in the group: never offered it
    alices = bot.stub.wait_for(
        lambda: [
            c.args["view"]
            for c in bot.stub.of("views.update")
            if c.args["view"].get("private_metadata") == "pods-read"
            and c.args["view_id"] != first["id"]
        ],
        what="Alice's dialog",
    )[0]
    assert options(alices, Field.PROFILE) == ["pods-read"]
    assert "Traceback" not in bot.log()


def test_refusals_are_shown_on_their_fields_and_nothing_is_requested(bot: BotProcess) -> None:
    bot.slack.shortcut(ALICE)
    drawn(bot, "pods-read")
    answer = submit(bot, ALICE, "pods-read", typed="9h", namespace="default")
    assert answer == {
        "response_action": "errors",
        "errors": {
            "request_duration_typed:pods-read": (
                "`9h` is outside what `pods-read` allows: between 10s and 4h."
            )
        },
    }
    answer = submit(bot, ALICE, "pods-read", duration=timedelta(hours=1), namespace="kube-system")
    assert list(answer["errors"]) == ["request_namespace:pods-read"]
    # Submitted before the dialog was drawn for the profile just chosen.
    answer = submit(bot, DAVE, "pods-read", profile="payments-view", duration=timedelta(hours=1))
    assert answer["errors"]["request_profile"].startswith("The dialog is still showing")
    assert submit(bot, ALICE, "pods-read", duration=timedelta(hours=1), namespace="default") == {}
    again = submit(bot, ALICE, "pods-read", duration=timedelta(hours=1), namespace="default")
    assert "already" in again["errors"]["request_profile"]
    approvals = [
        c for c in bot.stub.of("chat.postMessage") if c.args.get("channel") == "C0APPROVALS"
    ]
    assert len(approvals) <= 1  # one request only


def test_help_still_helps(bot: BotProcess) -> None:
    bot.slack.command(ALICE, "help", key="help")
    text = bot.stub.wait_for(lambda: bot.stub.responses(), what="the help")[0]
    assert "`/eks-access` — open the request dialog" in text
    assert bot.stub.of("views.open") == []
