"""The approval message's lines about who decides, as Slack shows them."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.adapters.slack import approvals, blocks
from bot.adapters.slack.actions import approved_text
from bot.domain.grants import SYSTEM, GrantStatus
from bot.domain.policy import Profile
from bot.policy_file import parse_policy
from tests.services.fakes import POLICY
from tests.support.records import a_request

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def quorum_profile() -> Profile:
    doc: dict[str, Any] = copy.deepcopy(POLICY)
    doc["profiles"]["pods-read"] |= {
        "approvals": 2,
        "approvers": {"prod": ["S0SRE"], "*": ["U0CAROL", "S0ONCALL"]},
    }
    return parse_policy(doc).profiles["pods-read"]


def test_the_waiting_message_mentions_its_cluster_s_approvers_and_the_progress() -> None:
    profile = quorum_profile()
    grant = a_request("abcd2345", NOW, pending_until=NOW + timedelta(hours=1))
    assert approvals.who_decides(grant, profile) == (
        "Approvers: <@U0CAROL>, <!subteam^S0ONCALL> · 2 approvals needed"
    )
    on_prod = replace(grant, cluster="prod")
    assert approvals.who_decides(on_prod, profile).startswith("Approvers: <!subteam^S0SRE> ·")
    assert approvals.progress(grant, profile) == ""
    voted = replace(grant, approvals=("U0CAROL",))
    assert approvals.progress(voted, profile) == (
        ":ballot_box_with_check: 1 of 2 approvals: <@U0CAROL>"
    )
    message = blocks.approval_message(voted, profile)
    assert any(b["type"] == "actions" for b in message)
    assert "1 of 2 approvals" in str(message)
    assert approved_text(voted, 2).startswith(
        ":ballot_box_with_check: Your approval is counted: 1 of 2 for `abcd2345`; it waits for "
        "1 more"
    )
    assert approvals.reminder_text(voted, profile) == (
        ":bell: <@U0CAROL>, <!subteam^S0ONCALL>: request `abcd2345` by <@U0ALICE> "
        "(*pods-read* on `dev`/`default`) still waits for a decision (1 of 2 approvals so far)."
    )


def test_who_approved_a_decided_request() -> None:
    grant = a_request("abcd2345", NOW, pending_until=NOW, status=GrantStatus.ACTIVATING)
    three = replace(grant, approvals=("U0A", "U0B", "U0C"), decided_by="U0C")
    assert approvals.approved_by(three) == "Approved by <@U0A>, <@U0B> and <@U0C>"
    legacy = replace(grant, decided_by="U0CAROL")  # a row from before approvals were kept
    assert approvals.approved_by(legacy, capital=False) == "approved by <@U0CAROL>"
    auto = replace(grant, decided_by=SYSTEM)
    assert approvals.approved_by(auto) == "Auto-approved by rule"
    message = blocks.approval_message(auto, quorum_profile())
    assert not any(b["type"] == "actions" for b in message)  # decided: no buttons
