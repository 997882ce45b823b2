"""Buttons and modals through the real Bolt app: what the clicker reads, the dialogs opened
(views.open) and the modal answers (`response_action: errors`). Signed requests only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.adapters.slack.ids import Action, Field, View
from bot.domain.grants import GrantStatus
from tests.adapters.slack.conftest import (
    ACTIVE_UNTIL,
    ALICE,
    APPROVALS,
    CAROL,
    DAVE,
    ERIN,
    Scenario,
)

#: The buttons and selects whose value is not a request's id.
NAMES_NO_REQUEST = (Action.CHOOSE_PROFILE, Action.OPEN_REQUEST_DIALOG)
NOT_AN_APPROVER = (
    "You are not an approver of `pods-read`; its approvers are <@U0CAROL>, <!subteam^S0ONCALL>."
)


def test_approve_activates_and_tells_the_approver_the_channel_and_the_requester(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    status, body = scenario.slack.click(CAROL, Action.APPROVE_GRANT, grant.id, key="approve")
    assert (status, body) == (200, "")
    assert scenario.answer("approve") == (
        f":white_check_mark: Approved `{grant.id}`: active until {ACTIVE_UNTIL}."
    )
    assert scenario.grant(grant.id).status is GrantStatus.ACTIVE
    summary = (
        f"*<@U0ALICE>* requests *pods-read* on `dev` in `default` for *2h* (request `{grant.id}`)"
    )
    # The message shows the grant as it is when the update is sent: the "activating" update
    # owed at approval is superseded by the "active" one owed right after it.
    assert scenario.posted("chat.update") == [
        f"Request {grant.id}: active\n{summary}\n"
        f":white_check_mark: Approved by <@U0CAROL> · active until {ACTIVE_UNTIL}",
    ]
    approval_message = (APPROVALS, "1.000100")  # the stub's first message
    assert {(c.args["channel"], c.args["ts"]) for c in scenario.stub.of("chat.update")} == {
        approval_message
    }
    (dm,) = scenario.posted(channel=ALICE)
    assert (
        f":white_check_mark: Your access *pods-read* on `dev` in `default` is active until "
        f"{ACTIVE_UNTIL} (approved by <@U0CAROL>, request `{grant.id}`)."
    ) in dm
    assert "Kubernetes sees you as `eks-access:111122223333:user/alice`." in dm


def test_an_approver_through_a_user_group_is_recognised_at_click_time(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    scenario.slack.click(ERIN, Action.APPROVE_GRANT, grant.id, key="approve")
    assert scenario.answer("approve").startswith(f":white_check_mark: Approved `{grant.id}`")
    lookups = [c.args["usergroup"] for c in scenario.stub.of("usergroups.users.list")]
    assert lookups == ["S0ONCALL"]


def test_approve_by_someone_else_is_refused_and_changes_nothing(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.slack.click(DAVE, Action.APPROVE_GRANT, grant.id, key="approve")
    assert scenario.answer("approve") == f":warning: {NOT_AN_APPROVER}"
    assert scenario.grant(grant.id) == grant
    assert scenario.posted("chat.update") == []


def test_the_second_approval_is_told_who_approved_first(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.slack.click(CAROL, Action.APPROVE_GRANT, grant.id, key="first")
    scenario.slack.click(ERIN, Action.APPROVE_GRANT, grant.id, key="second")
    assert scenario.answer("second") == (
        f":warning: Request `{grant.id}` was already approved by <@U0CAROL>."
    )
    assert len(scenario.posted("chat.update")) == 1  # active: the first click's


def test_deny_opens_the_reason_dialog_for_that_request(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    status, _ = scenario.slack.click(CAROL, Action.DENY_GRANT, grant.id, key="deny")
    assert status == 200
    (opened,) = scenario.stub.of("views.open")
    assert opened.args["trigger_id"] == "trigger-deny"
    view = opened.args["view"]
    assert (view["callback_id"], view["private_metadata"]) == (
        View.DENY_REASON,
        f"grant:{grant.id}",
    )
    assert [b["label"]["text"] for b in view["blocks"]] == ["Reason (sent to the requester)"]
    assert scenario.stub.of("response/deny") == []
    assert scenario.grant(grant.id) == grant


def test_deny_submitted_closes_the_dialog_and_tells_the_requester_why(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    status, body = scenario.slack.submit_view(
        CAROL,
        View.DENY_REASON,
        f"grant:{grant.id}",
        {Field.REASON_BLOCK: {Field.REASON_INPUT: "not during the <!here> freeze"}},
    )
    assert (status, body) == (200, "")
    assert scenario.grant(grant.id).status is GrantStatus.DENIED
    assert scenario.posted(channel=ALICE) == [
        f":no_entry: Your request `{grant.id}` for *pods-read* was denied by <@U0CAROL>. "
        "Reason: not during the &lt;!here&gt; freeze"
    ]
    assert scenario.posted("chat.update")[0].endswith(
        ":no_entry: Denied by <@U0CAROL>: not during the &lt;!here&gt; freeze"
    )


def test_deny_submitted_by_a_non_approver_keeps_the_dialog_open_with_the_reason(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    status, body = scenario.slack.submit_view(
        DAVE, View.DENY_REASON, f"grant:{grant.id}", {Field.REASON_BLOCK: {Field.REASON_INPUT: ""}}
    )
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        # A field's error is plain text in Slack: ids, not mentions.
        "errors": {
            Field.REASON_BLOCK: "You are not an approver of `pods-read`; its approvers are "
            "U0CAROL, group S0ONCALL."
        },
    }
    assert scenario.grant(grant.id) == grant


def test_extend_opens_the_duration_dialog_for_that_grant(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    scenario.slack.click(ALICE, Action.EXTEND_GRANT, grant.id, key="extend")
    (opened,) = scenario.stub.of("views.open")
    view = opened.args["view"]
    assert (view["callback_id"], view["private_metadata"]) == (View.EXTEND, grant.id)
    (duration,) = view["blocks"]
    assert duration["block_id"] == Field.DURATION_BLOCK
    assert duration["element"]["initial_value"] == "1h"


def test_extend_submitted_asks_the_approvers_and_their_approval_moves_the_expiry(
    scenario: Scenario,
) -> None:
    grant = scenario.active_grant()
    status, body = scenario.slack.submit_view(
        ALICE, View.EXTEND, grant.id, {Field.DURATION_BLOCK: {Field.DURATION_INPUT: "1h"}}
    )
    assert (status, body) == (200, "")
    assert scenario.posted(channel=APPROVALS)[-1].startswith(
        f"<@U0ALICE> asks to extend {grant.id}\n"
    )
    extension_id = scenario.ids.issued[-1]
    scenario.slack.click(CAROL, Action.APPROVE_EXTENSION, extension_id, key="approve")
    assert scenario.answer("approve") == ":white_check_mark: Extension approved."
    assert scenario.grant(grant.id).expires_at == datetime(2026, 1, 1, 15, 0, tzinfo=UTC)


def test_extend_submitted_with_a_bad_duration_keeps_the_dialog_open_with_the_reason(
    scenario: Scenario,
) -> None:
    grant = scenario.active_grant()
    status, body = scenario.slack.submit_view(
        ALICE, View.EXTEND, grant.id, {Field.DURATION_BLOCK: {Field.DURATION_INPUT: "forever"}}
    )
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {
            Field.DURATION_BLOCK: "`forever` is not a duration: use a number and a unit, "
            "e.g. 30s, 15m, 2h, 1h30m or 1d."
        },
    }
    assert scenario.ids.issued == [grant.id]  # no extension was created


@pytest.mark.parametrize("action", [a for a in Action if a not in NAMES_NO_REQUEST])
def test_a_button_whose_value_is_not_an_id_is_refused_and_opens_nothing(
    scenario: Scenario, action: Action
) -> None:
    scenario.slack.click(CAROL, action, "'; DROP TABLE grants;--", key="forged")
    assert scenario.answer("forged") == ":warning: This button does not name a valid request."
    assert scenario.stub.of("views.open") == []


def test_a_dialog_slack_will_not_open_is_explained_to_the_clicker(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.stub.fail("views.open", 1, status=200, error="expired_trigger_id")
    scenario.slack.click(CAROL, Action.DENY_GRANT, grant.id, key="deny")
    assert scenario.answer("deny") == ":x: Could not open the dialog; please click again."
