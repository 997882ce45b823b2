"""The request dialog through the real Bolt app (signed requests in, the Slack stub holding
the modal): opened at once, drawn for the profile chosen, submitted as the command is, with
refusals on the fields."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.slack.ids import Action, Field, View
from bot.domain.grants import GrantStatus
from tests.adapters.slack.conftest import ALICE, APPROVALS, DAVE, POLICY, Scenario
from tests.support.dialog import block, filled_in, initial, options

PAYMENTS = "S0PAYMENTS"  # a user group; Dave is in it, Alice is not


@pytest.fixture
def scenario_policy() -> dict[str, Any]:
    policy = copy.deepcopy(POLICY)
    policy["clusters"].append({"name": "prod", "kubeconfig": "/unused/kubeconfig"})
    policy["profiles"]["payments-debug"] = {
        "description": "Debug the payments jobs",
        "namespaces": ["payments", "payments-jobs"],
        "cluster_role": "view",
        "clusters": ["prod"],
        "durations": ["30m", "2h"],
        "max_duration": "4h",
        "requesters": [PAYMENTS],
        "approvers": ["U0CAROL"],
    }
    return policy


@pytest.fixture
def dialog(scenario: Scenario) -> Scenario:
    scenario.stub.group_members[PAYMENTS] = [DAVE]
    return scenario


def opened(scenario: Scenario) -> dict[str, Any]:
    """The dialog as Slack shows it now (the one modal open)."""
    (view,) = scenario.stub.views.values()
    return view


def submit(scenario: Scenario, user: str, state: dict[str, Any]) -> dict[str, Any]:
    view = opened(scenario)
    status, body = scenario.slack.submit_view(
        user, str(View.REQUEST_ACCESS), view["private_metadata"], {}, state=state
    )
    assert status == 200
    return json.loads(body) if body else {}


def test_bare_command_opens_the_dialog_at_once_and_fills_it_in(dialog: Scenario) -> None:
    status, body = dialog.slack.command(DAVE, "", key="bare")
    assert (status, body) == (200, "")
    (first,) = dialog.stub.of("views.open")
    assert first.args["trigger_id"] == "trigger-bare"
    assert "Looking up what you may request" in json.dumps(first.args["view"])
    (update,) = dialog.stub.of("views.update")
    assert update.args["view_id"] == "V0001" and update.args["hash"] == "hash-1"
    view = opened(dialog)
    assert view["callback_id"] == View.REQUEST_ACCESS
    # Dave requests through the payments group: both profiles, the first drawn.
    assert options(view, Field.PROFILE) == ["pods-read", "payments-debug"]
    assert block(view, str(Field.PROFILE))["dispatch_action"] is True
    assert initial(view, Field.PROFILE) == "pods-read"
    assert options(view, Field.CLUSTER) == ["dev", "prod"]
    assert initial(view, Field.CLUSTER) == "dev"  # the default cluster
    assert options(view, Field.NAMESPACE) == ["default"]
    assert initial(view, Field.NAMESPACE) == "default"
    assert options(view, Field.DURATION_CHOICE) == ["15m", "30m", "1h", "2h", "4h"]
    assert initial(view, Field.DURATION_CHOICE) == "1h"
    assert dialog.stub.responses() == []  # the dialog is the answer


def test_a_requester_outside_the_group_is_offered_only_what_they_may_request(
    dialog: Scenario,
) -> None:
    dialog.slack.shortcut(ALICE)
    assert options(opened(dialog), Field.PROFILE) == ["pods-read"]
    assert [c.args["usergroup"] for c in dialog.stub.of("usergroups.users.list")] == [PAYMENTS]


def test_help_still_shows_help_and_names_the_dialog(dialog: Scenario) -> None:
    dialog.slack.command(ALICE, "help", key="help")
    assert "`/eks-access` — open the request dialog" in dialog.answer("help")
    assert dialog.stub.of("views.open") == []


def test_choosing_a_profile_draws_its_clusters_namespaces_and_durations(
    dialog: Scenario,
) -> None:
    dialog.slack.shortcut(DAVE)
    before = opened(dialog)
    dialog.slack.click_in_view(DAVE, Action.CHOOSE_PROFILE, before, selected="payments-debug")
    update = dialog.stub.of("views.update")[-1]
    assert update.args["view_id"] == before["id"] and update.args["hash"] == before["hash"]
    view = opened(dialog)
    assert view["private_metadata"] == "payments-debug"
    assert initial(view, Field.PROFILE) == "payments-debug"
    assert options(view, Field.CLUSTER) == ["prod"]
    assert initial(view, Field.CLUSTER) == "prod"  # the default cluster is not allowed
    assert options(view, Field.NAMESPACE) == ["payments", "payments-jobs"]
    assert initial(view, Field.NAMESPACE) is None  # two: the requester chooses
    assert options(view, Field.DURATION_CHOICE) == ["30m", "2h"]
    assert block(view, str(Field.NAMESPACE))["block_id"] == "request_namespace:payments-debug"


def test_a_stale_redraw_is_dropped(dialog: Scenario) -> None:
    dialog.slack.shortcut(DAVE)
    stale = dict(opened(dialog))
    dialog.slack.click_in_view(DAVE, Action.CHOOSE_PROFILE, stale, selected="payments-debug")
    dialog.slack.click_in_view(DAVE, Action.CHOOSE_PROFILE, stale, selected="pods-read")
    assert opened(dialog)["private_metadata"] == "payments-debug"  # hash_conflict: unchanged


def test_a_profile_the_user_may_not_request_is_never_drawn(dialog: Scenario) -> None:
    dialog.slack.shortcut(ALICE)
    view = opened(dialog)
    dialog.slack.click_in_view(ALICE, Action.CHOOSE_PROFILE, view, selected="payments-debug")
    assert opened(dialog)["private_metadata"] == "pods-read"
    assert "payments" not in json.dumps(opened(dialog))


def test_submitting_requests_access_as_the_command_does(dialog: Scenario) -> None:
    dialog.slack.shortcut(DAVE)
    dialog.slack.click_in_view(
        DAVE, Action.CHOOSE_PROFILE, opened(dialog), selected="payments-debug"
    )
    state = filled_in(
        "payments-debug",
        cluster="prod",
        namespace="payments-jobs",
        duration=timedelta(minutes=30),
        reason="INC-7 stuck job",
    )
    assert submit(dialog, DAVE, state) == {}  # closes the dialog
    grant = dialog.grant(dialog.ids.issued[-1])
    assert (grant.profile, grant.cluster, grant.namespace) == (
        "payments-debug",
        "prod",
        "payments-jobs",
    )
    assert grant.duration == timedelta(minutes=30) and grant.reason == "INC-7 stuck job"
    assert grant.status is GrantStatus.PENDING and grant.requester == DAVE
    (dm,) = dialog.posted(channel=DAVE)
    assert dm.startswith(f":inbox_tray: Request `{grant.id}` sent for approval: *payments-debug*")
    assert "INC-7 stuck job" in dialog.posted(channel=APPROVALS)[0]


def test_a_typed_duration_wins_over_the_list(dialog: Scenario) -> None:
    dialog.slack.shortcut(ALICE)
    submit(dialog, ALICE, filled_in("pods-read", duration=timedelta(hours=1), typed="45m"))
    assert dialog.grant(dialog.ids.issued[-1]).duration == timedelta(minutes=45)


@pytest.mark.parametrize(
    ("fill", "field", "error"),
    [
        (
            {"typed": "5h"},
            "request_duration_typed:pods-read",
            "`5h` is outside what `pods-read` allows: between 10s and 4h.",
        ),
        ({"typed": "soon"}, "request_duration_typed:pods-read", None),
        (
            {"duration": None},
            "request_duration:pods-read",
            "Choose a duration, or type one such as 2h.",
        ),
        ({"cluster": "staging"}, "request_cluster:pods-read", None),
        ({"namespace": "kube-system"}, "request_namespace:pods-read", None),
        ({"reason": "x" * 600}, "request_reason", None),
        ({"profile": "payments-debug"}, "request_profile", None),
    ],
)
def test_a_refusal_is_shown_on_its_field_and_nothing_is_requested(
    dialog: Scenario, fill: dict[str, Any], field: str, error: str | None
) -> None:
    dialog.slack.shortcut(ALICE)
    values: dict[str, Any] = {"duration": timedelta(hours=1), "namespace": "default"} | fill
    answer = submit(dialog, ALICE, filled_in("pods-read", **values))
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [field]
    message = answer["errors"][field]
    assert len(message) <= 150 and "<" not in message  # plain text: no mentions, no links
    if error is not None:
        assert message == error
    assert dialog.ids.issued == [] and dialog.posted(channel=APPROVALS) == []


def test_a_second_identical_request_is_refused_on_the_profile(dialog: Scenario) -> None:
    dialog.slack.shortcut(ALICE)
    state = filled_in("pods-read", duration=timedelta(hours=1), namespace="default")
    assert submit(dialog, ALICE, state) == {}
    answer = submit(dialog, ALICE, state)
    assert list(answer["errors"]) == ["request_profile"]
    assert "already" in answer["errors"]["request_profile"]
    assert len(dialog.ids.issued) == 1


def test_a_profile_group_outsider_submitting_it_is_refused(dialog: Scenario) -> None:
    """A forged submission naming a profile the dialog never offered."""
    dialog.slack.shortcut(ALICE)
    state = filled_in(
        "payments-debug", cluster="prod", namespace="payments", duration=timedelta(hours=2)
    )
    _, body = dialog.slack.submit_view(
        ALICE, str(View.REQUEST_ACCESS), "payments-debug", {}, state=state
    )
    errors = json.loads(body)["errors"]
    assert errors == {
        "request_profile": (
            "You may not request `payments-debug`. Profiles you may request: `pods-read`."
        )
    }
    assert dialog.ids.issued == []


def test_a_dialog_slack_would_not_open_is_said_and_help_is_offered(dialog: Scenario) -> None:
    dialog.stub.fail("views.open", 1, status=200, error="expired_trigger_id")
    dialog.slack.command(ALICE, "   ", key="late")
    assert dialog.answer("late").startswith(":x: Slack did not open the request dialog")
    assert dialog.stub.of("views.update") == []
