"""The approval settings of a profile: routing, quorum, auto-approval, break-glass, reminders
and the dialog's durations, each refused with a sentence that names what is allowed."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.policy_file import PolicyError, parse_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "policy.example.yaml"


def base() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    doc["clusters"].append({"name": "prod", "kubeconfig": doc["clusters"][0]["kubeconfig"]})
    return doc


def profile_with(**keys: Any) -> dict[str, Any]:
    doc = base()
    doc["profiles"]["pods-read"].update(keys)
    return doc


def test_defaults_need_one_approval_in_the_policy_s_channel() -> None:
    policy = parse_policy(base())
    profile = policy.profiles["pods-read"]
    assert profile.approvals == 1 and profile.auto_approve is None and not profile.break_glass
    assert policy.approval_channel_of(profile) == "C0APPROVALS"
    assert profile.approvers_for("prod") == profile.approvers
    assert profile.remind_after == timedelta(minutes=30)
    assert profile.break_glass_max_duration == timedelta(hours=1)
    assert timedelta(hours=1) in profile.duration_choices
    assert max(profile.duration_choices) == profile.max_duration


def test_every_approval_setting_is_read() -> None:
    doc = profile_with(
        approvers={"prod": ["S0SRE"], "*": ["U0CAROL", "U0ERIN"]},
        approvals=2,
        approval_channel="C0PODS",
        auto_approve={"requesters": ["S0ONCALL"], "max_duration": "30m"},
        break_glass=True,
        break_glass_max_duration="2h",
        remind_after="15m",
        durations=["2h", "30m"],
    )
    policy = parse_policy(doc)
    profile = policy.profiles["pods-read"]
    assert profile.approvers_for("prod") == ("S0SRE",)
    assert profile.approvers_for("dev") == ("U0CAROL", "U0ERIN")
    assert set(profile.all_approvers) == {"S0SRE", "U0CAROL", "U0ERIN"}
    assert profile.approvals == 2
    assert policy.approval_channel_of(profile) == "C0PODS"
    assert profile.auto_approve is not None
    assert profile.auto_approve.requesters == ("S0ONCALL",)
    assert profile.auto_approve.max_duration == timedelta(minutes=30)
    assert profile.break_glass and profile.break_glass_max_duration == timedelta(hours=2)
    assert profile.remind_after == timedelta(minutes=15)
    assert profile.duration_choices == (timedelta(minutes=30), timedelta(hours=2))


def test_remind_after_has_a_policy_wide_default() -> None:
    doc = base()
    doc["defaults"]["remind_after"] = "1h"
    assert parse_policy(doc).profiles["pods-read"].remind_after == timedelta(hours=1)


Edit = Callable[[dict[str, Any]], object]


def _profile(**keys: Any) -> Edit:
    return lambda d: d["profiles"]["pods-read"].update(keys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            _profile(approvals=0),
            "profiles.pods-read.approvals: must be a whole number from 1 to 10, not 0",
        ),
        (
            _profile(approvals="two"),
            "profiles.pods-read.approvals: must be a whole number from 1 to 10, not 'two'",
        ),
        (
            _profile(approvals=2),
            "profiles.pods-read.approvals: 2 approvals are needed, but only 1 approver(s) are "
            "listed for '*'",
        ),
        (
            _profile(approval_channel="#approvals"),
            "profiles.pods-read.approval_channel: must be a Slack channel id such as C0APPROVALS",
        ),
        (
            _profile(approvers={"prod": ["U0CAROL"]}),
            'profiles.pods-read.approvers: nobody approves on dev; add a "*" entry or list '
            "those clusters",
        ),
        (
            _profile(approvers={"staging": ["U0CAROL"], "*": ["U0CAROL"]}),
            "profiles.pods-read.approvers: no cluster named 'staging' (clusters: dev, prod)",
        ),
        (
            _profile(clusters=["dev"], approvers={"prod": ["U0CAROL"], "*": ["U0CAROL"]}),
            "profiles.pods-read.approvers: the profile is not offered on cluster 'prod'",
        ),
        (
            _profile(approvers={"prod": ["*"], "*": ["U0CAROL"]}),
            "profiles.pods-read.approvers.prod: '*' is not a Slack user id (U…/W…) or "
            'user-group id (S…); "*" is not allowed for approvers',
        ),
        (
            _profile(approvers={}),
            'profiles.pods-read.approvers: a mapping of cluster name (or "*") to a list of '
            "approvers",
        ),
        (
            _profile(auto_approve={"requesters": ["U0DAVE"]}),
            "profiles.pods-read.auto_approve.max_duration: required, the longest request "
            "approved by this rule",
        ),
        (
            _profile(auto_approve={"requesters": ["U0DAVE"], "max_duration": "1d"}),
            "profiles.pods-read.auto_approve.max_duration: 1d is longer than the profile's "
            "max_duration (4h)",
        ),
        (
            _profile(auto_approve={"requester": ["U0DAVE"], "max_duration": "1h"}),
            "profiles.pods-read.auto_approve.requester: unknown setting (allowed: "
            "max_duration, requesters)",
        ),
        (
            _profile(auto_approve=["U0DAVE"]),
            "profiles.pods-read.auto_approve: a mapping with requesters (a list) and "
            "max_duration (such as 1h)",
        ),
        (
            _profile(break_glass="yes"),
            "profiles.pods-read.break_glass: must be true or false (without quotes), not 'yes'",
        ),
        (
            _profile(break_glass_max_duration="5h"),
            "profiles.pods-read.break_glass_max_duration: 5h is longer than the profile's "
            "max_duration (4h)",
        ),
        (
            _profile(remind_after="soon"),
            "profiles.pods-read.remind_after: `soon` is not a duration",
        ),
        (
            _profile(durations=["1h", "9h"]),
            "profiles.pods-read.durations: 9h is outside the profile's bounds (10s to 4h)",
        ),
        (
            _profile(durations="1h"),
            "profiles.pods-read.durations: a list of durations such as [30m, 1h, 2h]",
        ),
    ],
)
def test_each_mistake_is_named(edit: Edit, message: str) -> None:
    doc = base()
    edit(doc)
    with pytest.raises(PolicyError) as e:
        parse_policy(doc)
    assert any(p.startswith(message) for p in e.value.problems), e.value.problems
