"""The request dialog's pure builders and the reading of its submission."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.adapters.slack import dialog_blocks
from bot.adapters.slack.dialog_form import NoDuration, ProfileChanging, Submission
from bot.adapters.slack.ids import Action, Field, View
from bot.domain.command_refusals import BadDuration, ReasonTooLong
from bot.domain.commands import GrantCommand
from bot.domain.refusals import DurationOutOfBounds, NamespaceNeeded, NoIdentity
from bot.policy_file import parse_policy
from tests.services.fakes import POLICY
from tests.support.block_kit import problems
from tests.support.dialog import block, filled_in, initial, options

policy = parse_policy(POLICY)
PROFILES = list(policy.profiles.values())


def view_for(name: str) -> dict[str, Any]:
    return dialog_blocks.request_view(policy, PROFILES, policy.profiles[name])


@pytest.mark.parametrize("name", list(policy.profiles))
def test_every_profiles_dialog_is_one_slack_accepts(name: str) -> None:
    view = view_for(name)
    assert problems(view) == []
    assert view["callback_id"] == View.REQUEST_ACCESS and view["private_metadata"] == name
    assert options(view, Field.PROFILE) == [p.name for p in PROFILES]
    assert initial(view, Field.PROFILE) == name
    profile = policy.profiles[name]
    choices = [dialog_blocks.duration_option(d)["text"]["text"] for d in profile.duration_choices]
    assert options(view, Field.DURATION_CHOICE) == choices
    assert options(view, Field.NAMESPACE) == list(profile.namespaces)
    allowed = [c.name for c in policy.clusters if profile.allows_cluster(c.name)]
    assert options(view, Field.CLUSTER) == allowed


def test_the_profile_select_dispatches_and_only_it() -> None:
    view = view_for(PROFILES[0].name)
    dispatching = [b for b in view["blocks"] if b.get("dispatch_action")]
    assert [b["block_id"] for b in dispatching] == ["request_profile"]
    assert dispatching[0]["element"]["action_id"] == Action.CHOOSE_PROFILE


def test_the_profiles_choices_live_in_blocks_of_their_own() -> None:
    """Slack keeps a block's input across an update while its id stays: a namespace chosen
    for one profile must not survive, unseen, under another."""
    a, b = PROFILES[0].name, PROFILES[1].name
    ids_a = {x["block_id"] for x in view_for(a)["blocks"] if "block_id" in x}
    ids_b = {x["block_id"] for x in view_for(b)["blocks"] if "block_id" in x}
    assert ids_a & ids_b == {"request_profile", "request_reason"}


def test_the_default_cluster_is_preselected_and_a_single_namespace_too() -> None:
    view = view_for("pods-read")
    assert initial(view, Field.CLUSTER) == policy.default_cluster.name
    assert block(view, str(Field.NAMESPACE))["element"].get("initial_option") == (
        {"text": {"type": "plain_text", "text": "default"}, "value": "default"}
        if policy.profiles["pods-read"].namespaces == ("default",)
        else None
    )


def test_loading_and_nothing_to_request_have_no_submit() -> None:
    for view in (dialog_blocks.loading_view(), dialog_blocks.nothing_to_request_view()):
        assert problems(view) == [] and "submit" not in view


def submission(drawn: str = "pods-read", **fill: Any) -> Submission:
    state = filled_in(drawn, **fill)
    return Submission({"private_metadata": drawn, "state": {"values": state}})


def test_a_submission_reads_as_the_command_would() -> None:
    command = submission(
        cluster="dev", namespace="default", duration=timedelta(hours=2), reason="  INC-9\nlogs "
    ).grant_command()
    assert command == GrantCommand("pods-read", timedelta(hours=2), "default", "dev", "INC-9 logs")


def test_the_typed_duration_wins_and_is_parsed_as_the_commands() -> None:
    assert submission(duration=timedelta(hours=2), typed="1h30m").duration() == timedelta(
        minutes=90
    )
    with pytest.raises(BadDuration):
        submission(typed="forever").duration()
    with pytest.raises(NoDuration):
        submission().duration()
    with pytest.raises(NoDuration):
        Submission(
            {
                "private_metadata": "pods-read",
                "state": {
                    "values": {
                        "request_duration:pods-read": {
                            "request_duration": {"selected_option": {"value": "2h; drop"}}
                        }
                    }
                },
            }
        ).duration()


def test_a_profile_chosen_but_not_yet_drawn_is_refused() -> None:
    with pytest.raises(ProfileChanging):
        submission(profile="other", duration=timedelta(hours=1)).grant_command()


def test_a_reason_too_long_is_refused() -> None:
    with pytest.raises(ReasonTooLong):
        submission(duration=timedelta(hours=1), reason="x" * 501).grant_command()


@pytest.mark.parametrize(
    ("error", "fill", "block_id"),
    [
        (NamespaceNeeded("pods-read", ("a", "b")), {}, "request_namespace:pods-read"),
        (
            DurationOutOfBounds(timedelta(hours=9), "pods-read", timedelta(0), timedelta(hours=4)),
            {},
            "request_duration:pods-read",
        ),
        (
            DurationOutOfBounds(timedelta(hours=9), "pods-read", timedelta(0), timedelta(hours=4)),
            {"typed": "9h"},
            "request_duration_typed:pods-read",
        ),
        (ReasonTooLong(600, 500), {}, "request_reason"),
        (NoIdentity("U0X"), {}, "request_profile"),
    ],
)
def test_each_refusal_goes_on_its_field_as_plain_text(
    error: Exception, fill: dict[str, Any], block_id: str
) -> None:
    errors = submission(**fill).errors(error)
    assert errors == {block_id: str(error)[:150]}
    assert "<@" not in errors[block_id]


def test_an_error_for_a_block_the_view_lacks_goes_on_the_profile() -> None:
    s = Submission({"private_metadata": "pods-read", "state": {"values": {}}})
    assert list(s.errors(NamespaceNeeded("pods-read", ("a",)))) == ["request_profile"]
