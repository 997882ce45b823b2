"""The audit export's pure parts: `--since`, the rows and the two writers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.audit_export import (
    COLUMNS,
    BadSince,
    row_of,
    since_from,
    write_csv,
    write_json,
)
from bot.domain.grants import EndReason, GrantStatus
from tests.adapters.test_cli_audit import request

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:00Z", datetime(2026, 11, 1, 9, tzinfo=UTC)),
        ("2026-11-01T10:00+01:00", datetime(2026, 11, 1, 9, tzinfo=UTC)),
        ("2026-11-01T09:00", datetime(2026, 11, 1, 9, tzinfo=UTC)),  # no offset: UTC
    ],
)
def test_since_is_a_duration_back_or_a_date(text: str, expected: datetime) -> None:
    at = since_from(text, NOW)
    assert at == expected and at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("last week", "--since `last week` is neither a duration (7d, 12h, 1h30m) nor a date"),
        ("", "--since `` is neither a duration"),
        ("7 days", "--since `7 days` is not a duration: use a number and a unit"),
        ("99999d", "--since `99999d` is far too long."),
        ("2026-11-31", "--since `2026-11-31` is not a date: use 2026-11-01 or 2026-11-01T09:00Z."),
        ("2026-11-29", "--since `2026-11-29` is in the future"),
    ],
)
def test_a_bad_since_says_what_is_wrong(text: str, sentence: str) -> None:
    with pytest.raises(BadSince) as refused:
        since_from(text, NOW)
    assert str(refused.value).startswith(sentence)


GRANT = request(
    "abcd2345",
    NOW,
    principal_arn="arn:aws:iam::111122223333:role/AWSReservedSSO_Eng_0123",
    session_name="alice@example.com",
    duration=timedelta(hours=2),
    reason='@here "quoted", with a comma\nand a line',
    status=GrantStatus.ENDED,
    ended_at=NOW + timedelta(hours=2),
    ended_by="system",
    end_reason=EndReason.EXPIRED,
)


def test_a_row_names_every_column_in_order() -> None:
    row = row_of(GRANT)
    assert tuple(row) == COLUMNS
    assert row["end_reason"] == "expired" and row["status"] == "ended"
    assert row["ended_at"] == "2026-11-28T14:00:00+00:00" and row["decided_by"] is None
    assert row["duration"] == "2h" and row["session"] == "alice@example.com"


def test_json_and_csv_carry_the_same_values() -> None:
    rows = [row_of(GRANT), row_of(GRANT)]
    as_json, as_csv = io.StringIO(), io.StringIO()
    write_json(rows, as_json)
    write_csv(rows, as_csv)
    assert json.loads(as_json.getvalue()) == rows
    read = list(csv.DictReader(io.StringIO(as_csv.getvalue())))
    assert read[0]["reason"] == "'" + str(GRANT.reason)  # `@` would start a formula
    assert read[0]["decided_by"] == "" and read[0]["ended_at"] == rows[0]["ended_at"]
    empty = io.StringIO()
    write_json([], empty)
    assert json.loads(empty.getvalue()) == []
