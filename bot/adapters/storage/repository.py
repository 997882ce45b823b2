"""GrantStore on SQLAlchemy Core: conditional updates, audit in the same transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    RowMapping,
    Table,
    and_,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.adapters.storage.tables import audit_events, extensions, grants
from bot.domain.errors import TransientError
from bot.domain.grants import (
    AuditEvent,
    EndReason,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
)

P = ParamSpec("P")
T = TypeVar("T")


def _db_errors(fn: Callable[P, T]) -> Callable[P, T]:
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


def _to_row(values: Mapping[str, object]) -> dict[str, object]:
    row = dict(values)
    if "duration" in row:
        row["duration_s"] = int(row.pop("duration").total_seconds())  # type: ignore[attr-defined]
    for key in ("status", "end_reason"):
        if row.get(key) is not None:
            row[key] = str(row[key])
    return row


def _grant(row: RowMapping | Mapping[str, Any]) -> Grant:
    data = dict(row)
    data["duration"] = timedelta(seconds=data.pop("duration_s"))
    data["status"] = GrantStatus(data["status"])
    data["end_reason"] = EndReason(data["end_reason"]) if data["end_reason"] else None
    return Grant(**data)


def _extension(row: RowMapping | Mapping[str, Any]) -> Extension:
    data = dict(row)
    data["duration"] = timedelta(seconds=data.pop("duration_s"))
    data["status"] = ExtensionStatus(data["status"])
    return Extension(**data)


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        grant_id=row["grant_id"],
        detail=row["detail"],
    )


def _event_row(event: AuditEvent) -> dict[str, object]:
    return {
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "grant_id": event.grant_id,
        "detail": event.detail[:4000],
    }


class SqlGrantStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Reads are single statements: autocommit spares each one a BEGIN/ROLLBACK round trip.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    @_db_errors
    def ping(self) -> None:
        with self._reads.connect() as conn:
            conn.execute(text("SELECT 1"))

    @_db_errors
    def add_grant(self, grant: Grant, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(grants).values(_to_row(grant.__dict__)))
            conn.execute(insert(audit_events).values(_event_row(event)))

    @_db_errors
    def get_grant(self, grant_id: str) -> Grant | None:
        with self._reads.connect() as conn:
            row = conn.execute(select(grants).where(grants.c.id == grant_id)).mappings().first()
        return _grant(row) if row else None

    @_db_errors
    def update_grant(
        self,
        grant_id: str,
        *,
        expect: Collection[GrantStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Grant | None:
        return self._conditional(grants, _grant, grant_id, expect, changes, event)

    @_db_errors
    def add_extension(self, extension: Extension, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(extensions).values(_to_row(extension.__dict__)))
            conn.execute(insert(audit_events).values(_event_row(event)))

    @_db_errors
    def get_extension(self, extension_id: str) -> Extension | None:
        with self._reads.connect() as conn:
            row = (
                conn.execute(select(extensions).where(extensions.c.id == extension_id))
                .mappings()
                .first()
            )
        return _extension(row) if row else None

    @_db_errors
    def update_extension(
        self,
        extension_id: str,
        *,
        expect: Collection[ExtensionStatus],
        changes: dict[str, object],
        event: AuditEvent | None = None,
    ) -> Extension | None:
        return self._conditional(extensions, _extension, extension_id, expect, changes, event)

    def _conditional(
        self,
        table: Table,
        build: Callable[[RowMapping], T],
        row_id: str,
        expect: Collection[Any],
        changes: dict[str, object],
        event: AuditEvent | None,
    ) -> T | None:
        """One transaction: `UPDATE … WHERE id = ? AND status IN (…) RETURNING *` (PostgreSQL
        and SQLite >= 3.35 both return the new row, saving a read), then the audit row."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(table)
                    .where(table.c.id == row_id, table.c.status.in_([str(s) for s in expect]))
                    .values(_to_row(changes))
                    .returning(*table.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            if event is not None:
                conn.execute(insert(audit_events).values(_event_row(event)))
        return build(row)

    @_db_errors
    def find_grants(
        self,
        *,
        statuses: Collection[GrantStatus],
        requester: str | None = None,
        principal_arn: str | None = None,
        cluster: str | None = None,
        expires_before: datetime | None = None,
        pending_before: datetime | None = None,
        attempt_due: datetime | None = None,
        limit: int | None = None,
    ) -> list[Grant]:
        c = grants.c
        where: list[ColumnElement[bool]] = [c.status.in_([str(s) for s in statuses])]
        if requester is not None:
            where.append(c.requester == requester)
        if principal_arn is not None:
            where.append(c.principal_arn == principal_arn)
        if cluster is not None:
            where.append(c.cluster == cluster)
        if expires_before is not None:
            where.append(c.expires_at <= expires_before)
        if pending_before is not None:
            where.append(c.pending_until <= pending_before)
        if attempt_due is not None:
            where.append(or_(c.next_attempt_at.is_(None), c.next_attempt_at <= attempt_due))
        query = select(grants).where(and_(*where)).order_by(c.expires_at, c.created_at)
        if limit is not None:
            query = query.limit(limit)
        with self._reads.connect() as conn:
            return [_grant(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def grant_refs(self, *, statuses: Collection[GrantStatus], cluster: str) -> list[GrantRef]:
        c = grants.c
        query = select(
            c.id, c.status, c.profile, c.namespace, c.principal_arn, c.k8s_username, c.session_name
        ).where(c.status.in_([str(s) for s in statuses]), c.cluster == cluster)
        with self._reads.connect() as conn:
            return [
                GrantRef(
                    r.id,
                    GrantStatus(r.status),
                    r.profile,
                    r.namespace,
                    r.principal_arn,
                    r.k8s_username,
                    r.session_name,
                )
                for r in conn.execute(query)
            ]

    @_db_errors
    def find_warn_due(self, now: datetime, horizon: timedelta) -> list[Grant]:
        c = grants.c
        query = select(grants).where(
            c.status == str(GrantStatus.ACTIVE),
            c.warned_at.is_(None),
            c.expires_at <= now + horizon,
        )
        with self._reads.connect() as conn:
            return [_grant(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def find_extensions(
        self,
        *,
        statuses: Collection[ExtensionStatus],
        grant_id: str | None = None,
        pending_before: datetime | None = None,
    ) -> list[Extension]:
        c = extensions.c
        where: list[ColumnElement[bool]] = [c.status.in_([str(s) for s in statuses])]
        if grant_id is not None:
            where.append(c.grant_id == grant_id)
        if pending_before is not None:
            where.append(c.pending_until <= pending_before)
        with self._reads.connect() as conn:
            rows = conn.execute(select(extensions).where(and_(*where))).mappings()
            return [_extension(r) for r in rows]

    @_db_errors
    def record(self, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit_events).values(_event_row(event)))

    @_db_errors
    def audit_trail(self, grant_id: str) -> list[AuditEvent]:
        c = audit_events.c
        query = select(audit_events).where(c.grant_id == grant_id).order_by(c.id)
        with self._reads.connect() as conn:
            return [_event(r) for r in conn.execute(query).mappings()]
