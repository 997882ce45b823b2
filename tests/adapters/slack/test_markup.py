"""Refusals carry facts; the edge chooses the markup. Every refusal of the core renders as
plain text (the CLI, logs, Slack's plain-text modal errors) without Slack syntax, and as
mrkdwn in Slack with real mentions."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import timedelta
from typing import Any, cast, get_type_hints

import pytest

from bot.adapters.slack.markup import SLACK
from bot.domain import break_glass_refusals, command_refusals, grant_refusals, refusals
from bot.domain.durations import InvalidDuration
from bot.domain.errors import Rejected

SAMPLES: dict[Any, Any] = {
    str: "U0CAROL",
    str | None: "U0CAROL",
    bool: True,
    int: 7,
    timedelta: timedelta(hours=2),
    tuple[str, ...]: ("U0CAROL", "S0ONCALL"),
    InvalidDuration: InvalidDuration("2x", "is not a duration."),
}

REFUSALS = [
    cls
    for module in (command_refusals, refusals, grant_refusals, break_glass_refusals)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, Rejected) and cls.__module__ == module.__name__
]


def sample(cls: type[Rejected]) -> Rejected:
    hints = get_type_hints(cls)
    fields = dataclasses.fields(cast(Any, cls))
    return cast(Any, cls)(**{f.name: SAMPLES[hints[f.name]] for f in fields})


@pytest.mark.parametrize("cls", REFUSALS, ids=lambda c: c.__name__)
def test_every_refusal_is_a_sentence_in_both_markups(cls: type[Rejected]) -> None:
    refusal = sample(cls)
    plain, slack = str(refusal), refusal.describe(SLACK)
    assert plain.endswith(".") and slack.endswith(".")
    assert "<@" not in plain and "<!" not in plain
    assert plain.replace("`", "") and "None" not in plain


def test_people_and_groups_are_mentions_in_slack_and_ids_in_plain_text() -> None:
    refusal = refusals.NotAnApprover("pods-read", ("U0CAROL", "S0ONCALL"))
    assert refusal.describe(SLACK) == (
        "You are not an approver of `pods-read`; its approvers are <@U0CAROL>, <!subteam^S0ONCALL>."
    )
    assert str(refusal) == (
        "You are not an approver of `pods-read`; its approvers are U0CAROL, group S0ONCALL."
    )
    decided = refusals.AlreadyDecided("abcd2345", "active", "U0CAROL")
    assert decided.describe(SLACK) == "Request `abcd2345` was already approved by <@U0CAROL>."
    assert str(refusals.AlreadyDecided(None, "timed_out", "U0CAROL")) == (
        "This extension was already closed: it timed out."
    )
