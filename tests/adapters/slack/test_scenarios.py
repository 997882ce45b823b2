"""The /eks-access slash command through the real Bolt app: each subcommand's answer as the
user reads it, and the Web API calls it causes. Signed requests only."""

from __future__ import annotations

import time

import pytest

from bot.adapters.slack.ids import Action
from tests.adapters.slack.conftest import (
    ACTIVE_UNTIL,
    ALICE,
    APPROVALS,
    CAROL,
    PENDING_UNTIL,
    Scenario,
)


def test_help_names_every_subcommand_and_the_approval_channel(scenario: Scenario) -> None:
    status, body = scenario.slack.command(ALICE, "help", key="help")
    assert (status, body) == (200, "")
    answer = scenario.answer("help")
    assert answer.startswith("*eks-access* gives you time-boxed, approved access")
    for usage in ("grant <profile> <duration>", "list", "extend <id> <duration>", "revoke <id>"):
        assert f"• `/eks-access {usage}" in answer
    assert "Approvers get Approve/Deny buttons in <#C0APPROVALS>" in answer


def test_profiles_lists_scope_durations_and_approvers(scenario: Scenario) -> None:
    scenario.slack.command(ALICE, "profiles", key="profiles")
    assert scenario.answer("profiles") == (
        "*Profiles you may request*\n"
        "• *pods-read* — Read pods\n"
        "    namespaces: `default` · 10s–4h · approvers: <@U0CAROL>, <!subteam^S0ONCALL>"
    )


def test_grant_answers_the_requester_and_posts_buttons_carrying_only_the_id(
    scenario: Scenario,
) -> None:
    scenario.slack.command(ALICE, "grant pods-read 2h looking at INC-42", key="grant")
    (grant_id,) = scenario.ids.issued
    grant = scenario.grant(grant_id)
    assert scenario.answer("grant") == (
        f":inbox_tray: Request `{grant.id}` sent for approval: *pods-read* on `dev`/`default` "
        f"for 2h. It waits until {PENDING_UNTIL}; withdraw it with `/eks-access revoke {grant.id}`."
    )
    (approval,) = scenario.stub.of("chat.postMessage")
    assert approval.args["channel"] == APPROVALS
    assert scenario.posted(channel=APPROVALS) == [
        "<@U0ALICE> requests pods-read on dev/default · "
        "Approvers: <@U0CAROL>, <!subteam^S0ONCALL>\n"
        f"*<@U0ALICE>* requests *pods-read* on `dev` in `default` for *2h* (request `{grant.id}`)"
        "\n>looking at INC-42\n"
        "Read pods · principal `arn:aws:iam::111122223333:user/alice`\n"
        "Approvers: <@U0CAROL>, <!subteam^S0ONCALL>\n"
        "Approve\nDeny"
    ]
    buttons = approval.args["blocks"][-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (Action.APPROVE_GRANT, grant.id),
        (Action.DENY_GRANT, grant.id),
    ]


def test_list_shows_the_requester_her_request_and_the_approver_what_awaits_him(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    scenario.slack.command(ALICE, "list", key="alice")
    scenario.slack.command(CAROL, "list", key="carol")
    assert scenario.answer("alice") == (
        "*Your requests and grants*\n"
        f"• `{grant.id}` *pods-read* on `dev`/`default` — pending approval (2h asked)"
    )
    assert scenario.answer("carol") == (
        "You have no pending requests or active grants. "
        "`/eks-access profiles` lists what you may request.\n"
        "*Waiting for your decision* (Approve/Deny in the approval channel)\n"
        f"• `{grant.id}` <@U0ALICE> — *pods-read* on `dev`/`default` for 2h, "
        f"waiting until {PENDING_UNTIL}"
    )


def test_extend_sends_the_extension_for_approval(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    scenario.slack.command(ALICE, f"extend {grant.id} 1h", key="extend")
    assert scenario.answer("extend") == (
        f":inbox_tray: Extension of `{grant.id}` by 1h sent for approval."
    )
    assert scenario.posted(channel=APPROVALS)[-1] == (
        f"<@U0ALICE> asks to extend {grant.id}\n"
        f"*<@U0ALICE>* asks to extend *pods-read* on `dev`/`default` (request `{grant.id}`) "
        f"by *1h*; it now ends {ACTIVE_UNTIL}.\n"
        "Approve\nDeny"
    )


def test_revoke_withdraws_a_pending_request_and_updates_its_approval_message(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    scenario.slack.command(ALICE, f"revoke {grant.id}", key="revoke")
    assert scenario.answer("revoke") == f":wastebasket: Request `{grant.id}` withdrawn."
    assert scenario.posted("chat.update") == [
        f"Request {grant.id}: cancelled\n"
        f"*<@U0ALICE>* requests *pods-read* on `dev` in `default` for *2h* (request `{grant.id}`)"
        "\n:wastebasket: Withdrawn by <@U0ALICE>"
    ]


def test_revoke_ends_an_active_grant_and_removes_its_binding(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    assert grant.id in scenario.cluster.bindings
    scenario.slack.command(ALICE, f"revoke {grant.id}", key="revoke")
    assert scenario.answer("revoke") == (
        f":lock: `{grant.id}` revoked: the RoleBinding is gone and access has ended."
    )
    assert scenario.cluster.bindings == {}


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (
            "frobnicate",
            "`frobnicate` is not a command. Try `grant`, `break-glass`, `list`, `extend`, "
            "`revoke`, `profiles`, `help` — `/eks-access help` explains each.",
        ),
        (
            "grant pods-read",
            "For how long? Usage: `/eks-access grant <profile> <duration> [ns=<namespace>] "
            "[cluster=<name>] [reason…]`.",
        ),
    ],
    ids=["unknown-subcommand", "grant-without-duration"],
)
def test_a_command_that_does_not_parse_gets_its_sentence_and_changes_nothing(
    scenario: Scenario, text: str, sentence: str
) -> None:
    scenario.slack.command(ALICE, text, key="bad")
    assert scenario.answer("bad") == f":warning: {sentence}"
    assert scenario.ids.issued == []  # nothing was created
    assert scenario.posted() == []


@pytest.mark.parametrize(
    ("age", "signature"),
    [(0, "v0=" + "0" * 64), (0, ""), (0, "v1=anything"), (301, None)],
    ids=["bad-signature", "no-signature", "wrong-scheme", "stale"],
)
def test_a_request_not_signed_by_slack_is_refused_before_any_listener(
    scenario: Scenario, age: int, signature: str | None
) -> None:
    form = scenario.slack.command_form(ALICE, "grant pods-read 2h", key="forged")
    status, _ = scenario.slack.send(form, timestamp=int(time.time()) - age, signature=signature)
    assert status == 401
    assert [c.method for c in scenario.stub.calls] == ["auth.test"]  # Bolt's own, at start
    assert scenario.ids.issued == []  # nothing was created
