"""`eks-access audit --since …`: every grant of a period as rows, written as JSON or CSV.

One row per request, whatever became of it, in the order of `COLUMNS`: who (the requester,
the IAM principal and session, the Kubernetes username the RBAC was bound to, which is what
the cluster's own audit log shows), what and where (profile, cluster, namespace, how the
identity was mapped), when, who decided, and how it ended. Times are ISO 8601 in UTC, the
duration is written as it was requested (`1h30m`), and an unknown value is JSON `null` or an
empty CSV cell. `expires_at` is the last expiry, after any extension (`eks-access audit <id>`
shows each one).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import TextIO

from bot.domain.durations import InvalidDuration, format_duration, parse_duration
from bot.domain.grants import Grant

Row = dict[str, str | None]

COLUMNS = (
    "id",
    "status",
    "requester",
    "principal",
    "session",
    "kubernetes_username",
    "profile",
    "cluster",
    "namespace",
    "mapped_via",
    "duration",
    "reason",
    "created_at",
    "decided_by",
    "decided_at",
    "decision_note",
    "activated_at",
    "expires_at",
    "ended_at",
    "ended_by",
    "end_reason",
    "end_detail",
)

FORMATS = ("json", "csv")


class BadSince(ValueError):
    """`--since` is neither a duration nor a date; the message says so."""


def since_from(text: str, now: datetime) -> datetime:
    """`7d` (the bot's durations: back from `now`), or an ISO date or time (`2026-11-01`,
    `2026-11-01T09:00Z`; without an offset it is UTC, a date alone is its midnight)."""
    raw = text.strip()
    if re.match(r"\d{4}-", raw):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise BadSince(
                f"--since `{raw}` is not a date: use 2026-11-01 or 2026-11-01T09:00Z."
            ) from None
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        if at > now:
            raise BadSince(f"--since `{raw}` is in the future: nothing has happened since.")
        return at
    try:
        return now - parse_duration(raw)
    except InvalidDuration as e:
        if raw[:1].isdigit():  # meant as a duration: say what is wrong with it
            raise BadSince(f"--since {e}") from None
        raise BadSince(
            f"--since `{raw}` is neither a duration (7d, 12h, 1h30m) nor a date (2026-11-01, "
            "2026-11-01T09:00Z)."
        ) from None


def row_of(grant: Grant) -> Row:
    """The columns of `COLUMNS`, in that order, as text (None when unknown)."""
    values: dict[str, object] = {
        "id": grant.id,
        "status": grant.status,
        "requester": grant.requester,
        "principal": grant.principal_arn,
        "session": grant.session_name,
        "kubernetes_username": grant.k8s_username,
        "profile": grant.profile,
        "cluster": grant.cluster,
        "namespace": grant.namespace,
        "mapped_via": grant.mapped_via,
        "duration": format_duration(grant.duration),
        "reason": grant.reason,
        "created_at": grant.created_at,
        "decided_by": grant.decided_by,
        "decided_at": grant.decided_at,
        "decision_note": grant.decision_note,
        "activated_at": grant.activated_at,
        "expires_at": grant.expires_at,
        "ended_at": grant.ended_at,
        "ended_by": grant.ended_by,
        "end_reason": grant.end_reason,
        "end_detail": grant.end_detail,
    }
    return {column: _text(values[column]) for column in COLUMNS}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def write_json(rows: Iterable[Row], out: TextIO) -> None:
    """One JSON array, one row per line. An array rather than JSON Lines: a reader gets the
    whole export or a parse error, so an export cut short (a full disk, a killed pipe) cannot
    pass for a shorter period; `jq -c '.[]'` turns it into lines when a pipeline wants them."""
    out.write("[")
    for i, row in enumerate(rows):
        out.write(",\n" if i else "\n")
        out.write(json.dumps(row, ensure_ascii=False))
    out.write("\n]\n")


def write_csv(rows: Iterable[Row], out: TextIO) -> None:
    """RFC 4180 with a header row. Text people typed (a reason, a note) that a spreadsheet would
    run as a formula (`=`, `+`, `-`, `@`) is quoted with a leading `'`, as OWASP advises for
    CSV files opened in spreadsheets."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _inert(v) for k, v in row.items()})


def _inert(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


WRITERS = {"json": write_json, "csv": write_csv}
