"""Rows in and out of the tables, and database failures as the bot's errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.domain.errors import TransientError
from bot.domain.grants import (
    AuditEvent,
    EndReason,
    Extension,
    ExtensionStatus,
    Grant,
    GrantStatus,
    MappedVia,
)

P = ParamSpec("P")
T = TypeVar("T")


def db_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """A database that does not answer is a transient failure with a sentence, not a trace.
    Each method is one transaction, so a failure leaves nothing half-written."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as e:
            raise TransientError("The eks-access database is not answering right now.") from e
        except DBAPIError as e:
            if e.connection_invalidated:
                raise TransientError("The eks-access database connection was lost.") from e
            raise

    return wrapper


def to_row(values: Mapping[str, object]) -> dict[str, object]:
    row = dict(values)
    if "duration" in row:
        row["duration_s"] = int(row.pop("duration").total_seconds())  # type: ignore[attr-defined]
    for key in ("status", "end_reason", "mapped_via"):
        if row.get(key) is not None:
            row[key] = str(row[key])
    if "approvals" in row:
        row["approvals"] = encode_approvals(row["approvals"])  # type: ignore[arg-type]
    return row


def encode_approvals(approvers: tuple[str, ...]) -> str:
    return " ".join(approvers)


def grant_of(row: RowMapping | Mapping[str, Any]) -> Grant:
    data = dict(row)
    data["duration"] = timedelta(seconds=data.pop("duration_s"))
    data["status"] = GrantStatus(data["status"])
    data["end_reason"] = EndReason(data["end_reason"]) if data["end_reason"] else None
    data["mapped_via"] = MappedVia(data["mapped_via"]) if data["mapped_via"] else None
    data["approvals"] = tuple(data["approvals"].split())
    return Grant(**data)


def extension_of(row: RowMapping | Mapping[str, Any]) -> Extension:
    data = dict(row)
    data["duration"] = timedelta(seconds=data.pop("duration_s"))
    data["status"] = ExtensionStatus(data["status"])
    return Extension(**data)


def event_of(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        grant_id=row["grant_id"],
        detail=row["detail"],
    )


def event_row(event: AuditEvent) -> dict[str, object]:
    return {
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "grant_id": event.grant_id,
        "detail": event.detail[:4000],
    }
