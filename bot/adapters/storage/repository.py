"""GrantStore on SQLAlchemy Core: conditional updates, audit in the same transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, overload

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.adapters.storage.tables import audit_events, extensions, grants, outbox
from bot.domain.errors import TransientError
from bot.domain.grants import (
    HOLDS_ACCESS,
    OPEN,
    AuditEvent,
    EndReason,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
    MappedVia,
)
from bot.domain.notices import Notice, NoticeKind, OwedNotice
from bot.domain.transitions import ExtensionTransition, GrantTransition

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


def _in(statuses: Collection[GrantStatus]) -> ColumnElement[bool]:
    return grants.c.status.in_([str(s) for s in statuses])


def _attempt_due(now: datetime) -> ColumnElement[bool]:
    c = grants.c
    return or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)


def _to_row(values: Mapping[str, object]) -> dict[str, object]:
    row = dict(values)
    if "duration" in row:
        row["duration_s"] = int(row.pop("duration").total_seconds())  # type: ignore[attr-defined]
    for key in ("status", "end_reason", "mapped_via"):
        if row.get(key) is not None:
            row[key] = str(row[key])
    return row


def _grant(row: RowMapping | Mapping[str, Any]) -> Grant:
    data = dict(row)
    data["duration"] = timedelta(seconds=data.pop("duration_s"))
    data["status"] = GrantStatus(data["status"])
    data["end_reason"] = EndReason(data["end_reason"]) if data["end_reason"] else None
    data["mapped_via"] = MappedVia(data["mapped_via"]) if data["mapped_via"] else None
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
        #: Called with each record a transition changed (the metrics observe revoke lag).
        self.on_applied: Callable[[Grant | Extension], None] | None = None
        # Reads are single statements: autocommit spares each one a BEGIN/ROLLBACK round trip.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    @_db_errors
    def ping(self) -> None:
        with self._reads.connect() as conn:
            conn.execute(text("SELECT 1"))

    @_db_errors
    def has_schema(self) -> bool:
        """Whether the database holds the bot's tables (read-only commands never create them,
        nor an SQLite file)."""
        url = self.engine.url
        path = url.database or ":memory:"
        if url.get_backend_name() == "sqlite" and path != ":memory:" and not Path(path).exists():
            return False
        with self._reads.connect() as conn:
            return inspect(conn).has_table("grants")

    @_db_errors
    def add_grant(self, grant: Grant, event: AuditEvent, notices: tuple[Notice, ...] = ()) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(grants).values(_to_row(grant.__dict__)))
            conn.execute(insert(audit_events).values(_event_row(event)))
            _owe(conn, notices, event.at)

    @_db_errors
    def get_grant(self, grant_id: str) -> Grant | None:
        with self._reads.connect() as conn:
            row = conn.execute(select(grants).where(grants.c.id == grant_id)).mappings().first()
        return _grant(row) if row else None

    @overload
    def apply(self, transition: GrantTransition) -> Grant | None: ...

    @overload
    def apply(self, transition: ExtensionTransition) -> Extension | None: ...

    @_db_errors
    def apply(self, transition: GrantTransition | ExtensionTransition) -> Grant | Extension | None:
        """One transaction: `UPDATE … WHERE id = ? AND status IN (…) RETURNING *` (PostgreSQL
        and SQLite >= 3.35 both return the new row, saving a read), then the audit row."""
        build: Callable[[RowMapping], Grant | Extension]
        if isinstance(transition, GrantTransition):
            table, build, row_id = grants, _grant, transition.grant_id
        else:
            table, build, row_id = extensions, _extension, transition.extension_id
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(table)
                    .where(
                        table.c.id == row_id,
                        table.c.status.in_([str(s) for s in transition.expect]),
                    )
                    .values(_to_row(transition.changes))
                    .returning(*table.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            if transition.event is not None:
                conn.execute(insert(audit_events).values(_event_row(transition.event)))
                _owe(conn, transition.notices, transition.event.at)
            elif transition.notices:
                raise ValueError("a transition that owes messages must carry its audit event")
        applied = build(row)
        if self.on_applied is not None:
            self.on_applied(applied)
        return applied

    @_db_errors
    def add_extension(
        self, extension: Extension, event: AuditEvent, notices: tuple[Notice, ...] = ()
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(extensions).values(_to_row(extension.__dict__)))
            conn.execute(insert(audit_events).values(_event_row(event)))
            _owe(conn, notices, event.at)

    @_db_errors
    def get_extension(self, extension_id: str) -> Extension | None:
        with self._reads.connect() as conn:
            row = (
                conn.execute(select(extensions).where(extensions.c.id == extension_id))
                .mappings()
                .first()
            )
        return _extension(row) if row else None

    # -- named queries ---------------------------------------------------------------------

    def _grants(self, *where: ColumnElement[bool], limit: int | None = None) -> list[Grant]:
        query = select(grants).where(*where).order_by(grants.c.expires_at, grants.c.created_at)
        if limit is not None:
            query = query.limit(limit)
        with self._reads.connect() as conn:
            return [_grant(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def open_grants_of(self, requester: str) -> list[Grant]:
        return sorted(
            self._grants(_in(OPEN), grants.c.requester == requester), key=lambda g: g.created_at
        )

    @_db_errors
    def pending_requests(self, *, limit: int) -> list[Grant]:
        return self._grants(_in({GrantStatus.PENDING}), limit=limit)  # no expiry yet: by age

    @_db_errors
    def access_holders(self, *, principal_arn: str, cluster: str) -> list[Grant]:
        c = grants.c
        return self._grants(
            _in(HOLDS_ACCESS), c.principal_arn == principal_arn, c.cluster == cluster
        )

    @_db_errors
    def due_for_expiry(self, now: datetime) -> list[Grant]:
        return self._grants(_in(HOLDS_ACCESS), grants.c.expires_at <= now)

    @_db_errors
    def activations_due(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.ACTIVATING}), _attempt_due(now))

    @_db_errors
    def revocations_due(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.REVOKING}), _attempt_due(now))

    @_db_errors
    def requests_past_deadline(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.PENDING}), grants.c.pending_until <= now)

    @_db_errors
    def active_expiring_by(self, at: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.ACTIVE}), grants.c.expires_at <= at)

    @_db_errors
    def due_for_warning(self, now: datetime, horizon: timedelta) -> list[Grant]:
        c = grants.c
        return self._grants(
            _in({GrantStatus.ACTIVE}), c.warned_at.is_(None), c.expires_at <= now + horizon
        )

    @_db_errors
    def grants_since(self, at: datetime) -> list[Grant]:
        c = grants.c
        # Created since `at` implies ended (if at all) since `at`: one condition covers both.
        query = (
            select(grants)
            .where(or_(c.ended_at.is_(None), c.ended_at >= at))
            .order_by(c.created_at, c.id)
        )
        with self._reads.connect() as conn:
            return [_grant(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def access_refs(self, cluster: str) -> list[GrantRef]:
        c = grants.c
        query = select(
            c.id,
            c.status,
            c.profile,
            c.namespace,
            c.principal_arn,
            c.k8s_username,
            c.session_name,
            c.mapped_via,
        ).where(_in(HOLDS_ACCESS), c.cluster == cluster)
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
                    MappedVia(r.mapped_via) if r.mapped_via else None,
                )
                for r in conn.execute(query)
            ]

    def _extensions(self, *where: ColumnElement[bool]) -> list[Extension]:
        query = select(extensions).where(
            extensions.c.status == str(ExtensionStatus.PENDING), *where
        )
        with self._reads.connect() as conn:
            return [_extension(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def pending_extension_of(self, grant_id: str) -> Extension | None:
        found = self._extensions(extensions.c.grant_id == grant_id)
        return found[0] if found else None

    @_db_errors
    def extensions_past_deadline(self, now: datetime) -> list[Extension]:
        return self._extensions(extensions.c.pending_until <= now)

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

    # -- the outbox ------------------------------------------------------------------------

    @_db_errors
    def owed(self, *, limit: int) -> list[OwedNotice]:
        """Undelivered notices, oldest first."""
        c = outbox.c
        query = (
            select(outbox)
            .where(c.delivered_at.is_(None), c.given_up_at.is_(None))
            .order_by(c.id)
            .limit(limit)
        )
        with self._reads.connect() as conn:
            return [_owed(r) for r in conn.execute(query).mappings()]

    @_db_errors
    def owed_count(self) -> int:
        c = outbox.c
        query = select(func.count()).where(c.delivered_at.is_(None), c.given_up_at.is_(None))
        with self._reads.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @_db_errors
    def delivered(self, notice_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == notice_id).values(delivered_at=now))

    @_db_errors
    def retry_notice(self, notice_id: int, *, at: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == notice_id)
                .values(due_at=at, attempts=outbox.c.attempts + 1, last_error=error[:500])
            )

    @_db_errors
    def give_up_notice(self, notice_id: int, event: AuditEvent) -> None:
        """No more tries: recorded on the row and in the grant's audit trail, together."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == notice_id)
                .values(given_up_at=event.at, last_error=event.detail[:500])
            )
            conn.execute(insert(audit_events).values(_event_row(event)))

    @_db_errors
    def count_by_status(self) -> dict[GrantStatus, int]:
        query = select(grants.c.status, func.count()).group_by(grants.c.status)
        with self._reads.connect() as conn:
            return {GrantStatus(status): int(n) for status, n in conn.execute(query)}

    @_db_errors
    def count_actions(self, actions: tuple[str, ...]) -> dict[str, int]:
        c = audit_events.c
        query = select(c.action, func.count()).where(c.action.in_(actions)).group_by(c.action)
        with self._reads.connect() as conn:
            return {str(action): int(n) for action, n in conn.execute(query)}


def _owe(conn: Connection, notices: tuple[Notice, ...], now: datetime) -> None:
    if notices:
        conn.execute(
            insert(outbox),
            [
                {
                    "kind": str(n.kind),
                    "grant_id": n.grant_id,
                    "extension_id": n.extension_id,
                    "detail": n.detail,
                    "created_at": now,
                    "due_at": now,
                    "attempts": 0,
                }
                for n in notices
            ],
        )


def _owed(row: RowMapping) -> OwedNotice:
    notice = Notice(NoticeKind(row["kind"]), row["grant_id"], row["extension_id"], row["detail"])
    return OwedNotice(row["id"], notice, row["attempts"], row["created_at"], row["due_at"])
