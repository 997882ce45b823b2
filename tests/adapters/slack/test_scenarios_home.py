"""The App Home and the ends of a grant through the real Bolt app: the Home published on
opening and after every change, its buttons answered by DM and a fresh Home (no
response_url there), Revoke now in the "access is active" DM, and the approval thread."""

from __future__ import annotations

import json
from typing import Any

from bot.adapters.slack.ids import Action, Field, View
from bot.domain.grants import GrantStatus
from tests.adapters.slack.conftest import ALICE, APPROVALS, CAROL, DAVE, Scenario
from tests.support.dialog import buttons, texts


def home(scenario: Scenario, user: str) -> dict[str, Any]:
    return scenario.stub.homes[user]


def test_opening_the_home_publishes_what_is_mine_and_what_waits_for_me(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    assert scenario.slack.open_home(ALICE)[0] == 200
    mine = home(scenario, ALICE)
    assert mine["type"] == "home"
    assert buttons(mine) == [
        ("Request access", Action.OPEN_REQUEST_DIALOG, "new"),
        ("Withdraw", Action.WITHDRAW_REQUEST, grant.id),
    ]
    assert f"*pods-read* on `dev`/`default` (`{grant.id}`) for 2h" in texts(mine)
    scenario.slack.open_home(CAROL)
    assert buttons(home(scenario, CAROL))[1:] == [
        ("Approve", Action.APPROVE_GRANT, grant.id),
        ("Deny", Action.DENY_GRANT, grant.id),
    ]
    assert "<@U0ALICE> asks for *pods-read*" in texts(home(scenario, CAROL))


def test_the_messages_tab_publishes_nothing(scenario: Scenario) -> None:
    scenario.slack.send_event({"type": "app_home_opened", "user": ALICE, "tab": "messages"})
    assert scenario.stub.of("views.publish") == []


def test_approve_from_the_home_answers_by_dm_and_refreshes_both_homes(
    scenario: Scenario,
) -> None:
    grant = scenario.pending_request()
    scenario.slack.open_home(CAROL)
    scenario.slack.click_in_view(CAROL, Action.APPROVE_GRANT, home(scenario, CAROL), value=grant.id)
    assert scenario.grant(grant.id).status is GrantStatus.ACTIVE
    (answer,) = scenario.posted(channel=CAROL)
    assert answer.startswith(f":white_check_mark: Approved `{grant.id}`: active until")
    assert "Waiting for your decision" not in texts(home(scenario, CAROL))
    # Alice's Home follows her grant, through the outbox (no one clicked there).
    assert buttons(home(scenario, ALICE))[1:] == [
        ("Extend", Action.EXTEND_GRANT, grant.id),
        ("Revoke", Action.REVOKE_GRANT, grant.id),
    ]
    assert "2h left" in texts(home(scenario, ALICE))
    # A second click from the stale Home: told, not applied twice.
    scenario.slack.click_in_view(CAROL, Action.APPROVE_GRANT, home(scenario, CAROL), value=grant.id)
    assert scenario.posted(channel=CAROL)[-1] == (
        f":warning: Request `{grant.id}` was already approved by <@U0CAROL>."
    )


def test_withdraw_from_the_home_is_idempotent(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.slack.open_home(ALICE)
    stale = home(scenario, ALICE)
    scenario.slack.click_in_view(ALICE, Action.WITHDRAW_REQUEST, stale, value=grant.id)
    assert scenario.grant(grant.id).status is GrantStatus.CANCELLED
    assert scenario.posted(channel=ALICE) == [f":wastebasket: Request `{grant.id}` withdrawn."]
    assert ("Withdraw", Action.WITHDRAW_REQUEST, grant.id) not in buttons(home(scenario, ALICE))
    assert ":wastebasket: withdrawn" in texts(home(scenario, ALICE))  # recently ended
    scenario.slack.click_in_view(ALICE, Action.WITHDRAW_REQUEST, stale, value=grant.id)
    assert scenario.posted(channel=ALICE)[-1] == (
        f":warning: Request `{grant.id}` was already withdrawn by the requester."
    )


def test_a_stale_withdraw_never_revokes_the_access_it_became(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.slack.open_home(ALICE)
    stale = home(scenario, ALICE)
    scenario.slack.click(CAROL, Action.APPROVE_GRANT, grant.id, key="approve")
    scenario.slack.click_in_view(ALICE, Action.WITHDRAW_REQUEST, stale, value=grant.id)
    assert scenario.grant(grant.id).status is GrantStatus.ACTIVE
    assert scenario.posted(channel=ALICE)[-1] == (
        f":warning: Request `{grant.id}` was already approved by <@U0CAROL>."
    )


def test_revoke_from_the_home_ends_it_and_a_second_click_hears_so(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    scenario.slack.open_home(ALICE)
    stale = home(scenario, ALICE)
    scenario.slack.click_in_view(ALICE, Action.REVOKE_GRANT, stale, value=grant.id)
    assert scenario.grant(grant.id).status is GrantStatus.ENDED
    assert grant.id not in scenario.cluster.bindings
    # The answer to the click, then the DM every revocation owes.
    assert scenario.posted(channel=ALICE)[-2:] == [
        f":lock: `{grant.id}` revoked: the RoleBinding is gone and access has ended.",
        f":lock: Your access `{grant.id}` (*pods-read*) was revoked by <@U0ALICE>.",
    ]
    assert "No access right now." in texts(home(scenario, ALICE))
    scenario.slack.click_in_view(ALICE, Action.REVOKE_GRANT, stale, value=grant.id)
    assert scenario.posted(channel=ALICE)[-1] == f":warning: `{grant.id}` is already ended."


def test_someone_else_may_not_revoke(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    scenario.slack.open_home(DAVE)
    scenario.slack.click_in_view(DAVE, Action.REVOKE_GRANT, home(scenario, DAVE), value=grant.id)
    assert scenario.grant(grant.id).status is GrantStatus.ACTIVE
    assert scenario.posted(channel=DAVE)[-1] == (
        f":warning: Only the requester or an approver of `pods-read` can revoke `{grant.id}`."
    )


def test_revoke_now_in_the_active_dm_and_the_approval_thread(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    (dm,) = [c for c in scenario.stub.of("chat.postMessage") if c.args["channel"] == ALICE]
    assert ("Revoke now", Action.REVOKE_GRANT, grant.id) in buttons(dm.args)
    scenario.slack.click(ALICE, Action.REVOKE_GRANT, grant.id, key="revoke-now")
    assert scenario.answer("revoke-now") == (
        f":lock: `{grant.id}` revoked: the RoleBinding is gone and access has ended."
    )
    thread = [
        c.args["text"]
        for c in scenario.stub.of("chat.postMessage")
        if c.args.get("thread_ts") == "1.000100"
    ]
    assert [
        c.args["channel"] for c in scenario.stub.of("chat.postMessage") if c.args.get("thread_ts")
    ] == [APPROVALS, APPROVALS]
    assert thread[0].startswith(
        ":white_check_mark: Active: <@U0ALICE> has *pods-read* on `dev`/`default` until"
    )
    assert thread[1] == ":lock: Revoked by <@U0ALICE>; access has ended."
    scenario.slack.click(ALICE, Action.REVOKE_GRANT, grant.id, key="again")
    assert scenario.answer("again") == f":warning: `{grant.id}` is already ended."


def test_deny_from_the_home_refreshes_the_deciders_home(scenario: Scenario) -> None:
    grant = scenario.pending_request()
    scenario.slack.open_home(CAROL)
    scenario.slack.click_in_view(CAROL, Action.DENY_GRANT, home(scenario, CAROL), value=grant.id)
    (modal,) = scenario.stub.of("views.open")
    metadata = modal.args["view"]["private_metadata"]
    assert metadata == f"grant:{grant.id};home"
    published = len(scenario.stub.of("views.publish"))
    status, body = scenario.slack.submit_view(
        CAROL,
        str(View.DENY_REASON),
        metadata,
        {str(Field.REASON_BLOCK): {str(Field.REASON_INPUT): "no"}},
    )
    assert (status, body) == (200, "")
    assert scenario.grant(grant.id).status is GrantStatus.DENIED
    users = [c.args["user_id"] for c in scenario.stub.of("views.publish")[published:]]
    assert CAROL in users and ALICE in users
    assert "Waiting for your decision" not in texts(home(scenario, CAROL))


def test_extend_from_the_home(scenario: Scenario) -> None:
    grant = scenario.active_grant()
    scenario.slack.open_home(ALICE)
    scenario.slack.click_in_view(ALICE, Action.EXTEND_GRANT, home(scenario, ALICE), value=grant.id)
    (modal,) = scenario.stub.of("views.open")
    assert modal.args["view"]["private_metadata"] == f"{grant.id};home"
    _, body = scenario.slack.submit_view(
        ALICE, str(View.EXTEND), f"{grant.id};home", {"duration": {"duration_input": "1h"}}
    )
    assert "errors" not in (json.loads(body) if body else {})
    assert scenario.store.pending_extension_of(grant.id) is not None
