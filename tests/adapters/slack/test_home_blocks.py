"""The App Home's and the approval thread's pure builders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.adapters.slack.blocks import access_active
from bot.adapters.slack.home_blocks import SHOWN, home_view
from bot.adapters.slack.ids import Action
from bot.adapters.slack.timeline import timeline_text
from bot.domain.grants import EndReason, Grant, GrantStatus
from bot.domain.notices import TimelineEvent
from bot.domain.policy import ClusterConfig
from tests.support.block_kit import problems
from tests.support.dialog import buttons, texts
from tests.support.records import a_request

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def grant(grant_id: str, status: GrantStatus, **fields: Any) -> Grant:
    base = a_request(grant_id, NOW - timedelta(hours=1), status=status)
    if status in (GrantStatus.ACTIVE, GrantStatus.ACTIVATING, GrantStatus.REVOKING):
        base = replace(base, expires_at=NOW + timedelta(minutes=80), decided_by="U0CAROL")
    return replace(base, **fields)


def test_an_empty_home_offers_to_request() -> None:
    view = home_view(mine=[], to_decide=[], recent=[], now=NOW)
    assert problems(view) == []
    assert buttons(view) == [("Request access", Action.OPEN_REQUEST_DIALOG, "new")]
    assert "No access right now." in texts(view)
    assert "Nothing waiting for approval." in texts(view)
    assert "Waiting for your decision" not in texts(view)


def test_each_state_gets_its_buttons() -> None:
    mine = [
        grant("activeaa", GrantStatus.ACTIVE),
        grant("applying", GrantStatus.ACTIVATING),
        grant("revoking", GrantStatus.REVOKING),
        grant("pendinga", GrantStatus.PENDING),
    ]
    theirs = [replace(grant("decideaa", GrantStatus.PENDING), requester="U0DAVE")]
    view = home_view(mine=mine, to_decide=theirs, recent=[], now=NOW)
    assert problems(view) == []
    assert buttons(view)[1:] == [
        ("Extend", Action.EXTEND_GRANT, "activeaa"),
        ("Revoke", Action.REVOKE_GRANT, "activeaa"),
        ("Revoke", Action.REVOKE_GRANT, "applying"),
        ("Withdraw", Action.WITHDRAW_REQUEST, "pendinga"),
        ("Approve", Action.APPROVE_GRANT, "decideaa"),
        ("Deny", Action.DENY_GRANT, "decideaa"),
    ]
    text = texts(view)
    assert "1h20m left" in text and "being revoked" in text
    assert "<@U0DAVE> asks for *pods-read*" in text and ">INC-42" in text


def test_the_revoke_button_asks_first() -> None:
    view = home_view(mine=[grant("activeaa", GrantStatus.ACTIVE)], to_decide=[], recent=[], now=NOW)
    revoke = next(
        e
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == Action.REVOKE_GRANT
    )
    assert revoke["confirm"]["confirm"]["text"] == "Revoke"


def test_recently_ended_say_how_they_ended() -> None:
    recent = [
        grant("deniedaa", GrantStatus.DENIED, decided_by="U0CAROL", ended_at=NOW),
        grant("cancelda", GrantStatus.CANCELLED, ended_at=NOW),
        grant("timedout", GrantStatus.TIMED_OUT, ended_at=NOW),
        grant("expiredx", GrantStatus.ENDED, end_reason=EndReason.EXPIRED, ended_at=NOW),
        grant("revokedx", GrantStatus.ENDED, end_reason=EndReason.REVOKED, ended_at=NOW),
    ]
    text = texts(home_view(mine=[], to_decide=[], recent=recent, now=NOW))
    for expected in ("denied by <@U0CAROL>", "withdrawn", "timed out", "expired", "revoked"):
        assert expected in text


def test_a_crowded_home_stays_within_slacks_hundred_blocks() -> None:
    many = [grant(f"active{i:02d}", GrantStatus.ACTIVE) for i in range(40)]
    pending = [grant(f"pendng{i:02d}", GrantStatus.PENDING) for i in range(40)]
    decide = [
        replace(grant(f"decide{i:02d}", GrantStatus.PENDING), requester="U0DAVE") for i in range(50)
    ]
    recent = [grant(f"ended{i:03d}", GrantStatus.ENDED, ended_at=NOW) for i in range(10)]
    view = home_view(mine=many + pending, to_decide=decide, recent=recent, now=NOW)
    assert problems(view) == []
    assert f"…and {50 - SHOWN} more" in texts(view)


def test_the_active_dm_has_revoke_now() -> None:
    blocks = access_active(
        grant("activeaa", GrantStatus.ACTIVE, k8s_username="u"), ClusterConfig("dev")
    )
    assert ("Revoke now", Action.REVOKE_GRANT, "activeaa") in buttons({"blocks": blocks})


@pytest.mark.parametrize(
    ("event", "fields", "expected"),
    [
        (
            TimelineEvent.ACTIVE,
            {},
            ":white_check_mark: Active: <@U0ALICE> has *pods-read* on `dev`/`default` until <!date^",
        ),
        (TimelineEvent.EXTENDED, {}, ":hourglass: Extended: now ends <!date^"),
        (
            TimelineEvent.REVOKED,
            {"ended_by": "U0CAROL"},
            ":lock: Revoked by <@U0CAROL>; access has ended.",
        ),
        (TimelineEvent.EXPIRED, {}, ":lock: Expired; access has been removed."),
        (
            TimelineEvent.FAILED,
            {"end_detail": "forbidden <x>"},
            ":x: Could not be applied: forbidden &lt;x&gt;.",
        ),
    ],
)
def test_the_thread_tells_each_step(
    event: TimelineEvent, fields: dict[str, str], expected: str
) -> None:
    text = timeline_text(grant("grantaaa", GrantStatus.ACTIVE, **fields), event)
    assert text.startswith(expected)
