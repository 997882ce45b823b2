"""The records tests start from, built one way."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.domain.grants import Grant, GrantStatus

ALICE_ARN = "arn:aws:iam::111122223333:user/alice"


def a_request(grant_id: str, created_at: datetime, **fields: Any) -> Grant:
    """Alice's pending request for `pods-read` in `dev`/`default`, 1h30m, waiting 4 h."""
    grant = Grant(
        id=grant_id,
        requester="U0ALICE",
        principal_arn=ALICE_ARN,
        profile="pods-read",
        cluster="dev",
        namespace="default",
        duration=timedelta(hours=1, minutes=30),
        reason="INC-42",
        status=GrantStatus.PENDING,
        created_at=created_at,
        pending_until=created_at + timedelta(hours=4),
    )
    return replace(grant, **fields)
