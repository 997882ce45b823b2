"""What the transitions owe the App Home and the approval thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import extension_transitions, transitions
from bot.domain.grants import EndReason, GrantStatus, MappedIdentity, MappedVia
from bot.domain.notices import Notice, NoticeKind, TimelineEvent, home_refresh
from tests.support.records import a_request

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
PENDING = a_request("abcd2345", NOW)
ACTIVATING = replace(PENDING, status=GrantStatus.ACTIVATING, expires_at=NOW + timedelta(hours=1))
ACTIVE = replace(ACTIVATING, status=GrantStatus.ACTIVE)


def timeline_of(t: transitions.GrantTransition) -> list[str]:
    return [n.detail for n in t.notices if n.kind is NoticeKind.TIMELINE]


def test_activation_extension_and_each_end_reply_in_the_thread() -> None:
    mapped = MappedIdentity("u", MappedVia.AWS_AUTH)
    assert timeline_of(transitions.activated(ACTIVATING, mapped=mapped, now=NOW)) == ["active"]
    extend = extension_transitions.extend(ACTIVE, by=timedelta(hours=1), actor="U0A", now=NOW)
    assert timeline_of(extend) == ["extended"]
    for reason, event in [
        (EndReason.REVOKED, TimelineEvent.REVOKED),
        (EndReason.EXPIRED, TimelineEvent.EXPIRED),
        (EndReason.FAILED, TimelineEvent.FAILED),
    ]:
        revoking = replace(ACTIVE, status=GrantStatus.REVOKING, end_reason=reason)
        assert timeline_of(transitions.end(revoking, now=NOW)) == [str(event)]
    # Decisions before access replace the approval message; the thread is for the grant.
    assert timeline_of(transitions.deny(PENDING, actor="U0C", note="", now=NOW)) == []
    assert timeline_of(transitions.cancel(PENDING, actor="U0A", now=NOW)) == []


@pytest.mark.parametrize(
    "transition",
    [
        transitions.approve(PENDING, actor="U0C", note="", now=NOW, lease=LEASE),
        transitions.deny(PENDING, actor="U0C", note="", now=NOW),
        transitions.cancel(PENDING, actor="U0A", now=NOW),
        transitions.time_out(PENDING, now=NOW),
        transitions.revoke(ACTIVE, actor="U0A", now=NOW, lease=LEASE),
        extension_transitions.extend(ACTIVE, by=timedelta(hours=1), actor="U0A", now=NOW),
    ],
)
def test_a_change_of_state_or_expiry_owes_the_requesters_home(
    transition: transitions.GrantTransition,
) -> None:
    assert transition.owed(PENDING)[-1] == home_refresh("abcd2345", "U0ALICE")
    assert transition.owed(PENDING)[:-1] == transition.notices


def test_other_changes_owe_no_refresh() -> None:
    noted = transitions.note_approval_message(PENDING, channel="C", ts="1.2")
    assert noted.owed(PENDING) == ()
    warned = transitions.warn(ACTIVE, now=NOW)
    assert all(n.kind is not NoticeKind.HOME_REFRESH for n in warned.owed(ACTIVE))
    assert home_refresh("g", "U") == Notice(NoticeKind.HOME_REFRESH, "g", detail="U")
