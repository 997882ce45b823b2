"""GrantStore on SQLAlchemy Core: conditional updates, audit in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from sqlalchemy import (
    Engine,
    RowMapping,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)

from bot.adapters.storage.outbox import OutboxRows, owe
from bot.adapters.storage.queries import GrantQueries
from bot.adapters.storage.rows import (
    db_errors,
    encode_approvals,
    event_of,
    event_row,
    extension_of,
    grant_of,
    to_row,
)
from bot.adapters.storage.statements import (
    GRANT_BY_ID,
    INSERT_AUDIT,
    Guard,
    conditional_update,
    recorded_update,
    row_by_id,
)
from bot.adapters.storage.tables import audit_events, extensions, grants
from bot.domain.grants import (
    AuditEvent,
    Extension,
    Grant,
    GrantStatus,
)
from bot.domain.notices import Notice, home_refresh
from bot.domain.transition_values import ExtensionTransition, GrantTransition


class SqlGrantStore(OutboxRows, GrantQueries):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        #: Called with each record a transition changed (the metrics observe revoke lag).
        self.on_applied: Callable[[Grant | Extension], None] | None = None
        # Reads, and a transition with its records on PostgreSQL, are single statements:
        # autocommit spares each a BEGIN/COMMIT round trip.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        #: Whether a transition and its records go as one statement (data-modifying CTEs).
        self._one_statement = engine.dialect.name == "postgresql"

    @db_errors
    def ping(self) -> None:
        with self._autocommit.connect() as conn:
            conn.execute(text("SELECT 1"))

    @db_errors
    def has_schema(self) -> bool:
        """Whether the database holds the bot's tables (read-only commands never create them,
        nor an SQLite file)."""
        url = self.engine.url
        path = url.database or ":memory:"
        if url.get_backend_name() == "sqlite" and path != ":memory:" and not Path(path).exists():
            return False
        with self._autocommit.connect() as conn:
            return inspect(conn).has_table("grants")

    @db_errors
    def add_grant(
        self,
        grant: Grant,
        event: AuditEvent,
        notices: tuple[Notice, ...] = (),
        *,
        also: tuple[AuditEvent, ...] = (),
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(grants).values(to_row(grant.__dict__)))
            conn.execute(insert(audit_events), [event_row(e) for e in (event, *also)])
            owe(conn, (*notices, home_refresh(grant.id, grant.requester)), event.at)

    @db_errors
    def get_grant(self, grant_id: str) -> Grant | None:
        with self._autocommit.connect() as conn:
            row = conn.execute(GRANT_BY_ID, {"row_id": grant_id}).mappings().first()
        return grant_of(row) if row else None

    @overload
    def apply(self, transition: GrantTransition) -> Grant | None: ...

    @overload
    def apply(self, transition: ExtensionTransition) -> Extension | None: ...

    @db_errors
    def apply(self, transition: GrantTransition | ExtensionTransition) -> Grant | Extension | None:
        """`UPDATE … WHERE id = ? AND status IN (…) RETURNING *` (PostgreSQL and SQLite >= 3.35
        both return the new row, saving a read), with the audit row and the notices owed,
        all or nothing: on PostgreSQL one statement (`recorded_update`), on SQLite one
        transaction. The statements are built once per shape (`statements`)."""
        update = _update_of(transition)
        refresh = isinstance(transition, GrantTransition) and transition.refreshes_home
        event = transition.event
        if event is None and (transition.notices or refresh):
            raise ValueError("a transition that owes messages must carry its audit event")
        if self._one_statement and event is not None:
            statement = recorded_update(*update.shape, len(transition.notices), refresh)
            with self._autocommit.connect() as conn:
                found = conn.execute(statement, update.params | _records(event, transition))
                row = found.mappings().first()
            applied = None if row is None else update.build(row)
        else:
            applied = self._apply_in_transaction(update, transition)
        if applied is not None and self.on_applied is not None:
            self.on_applied(applied)
        return applied

    def _apply_in_transaction(
        self, update: _Update, transition: GrantTransition | ExtensionTransition
    ) -> Grant | Extension | None:
        with self.engine.begin() as conn:
            row = conn.execute(conditional_update(*update.shape), update.params).mappings().first()
            if row is None:
                return None
            applied = update.build(row)
            if transition.event is not None:
                owed = (
                    transition.owed(applied)
                    if isinstance(transition, GrantTransition) and isinstance(applied, Grant)
                    else transition.notices
                )
                conn.execute(INSERT_AUDIT, event_row(transition.event))
                owe(conn, owed, transition.event.at)
        return applied

    @db_errors
    def add_extension(
        self, extension: Extension, event: AuditEvent, notices: tuple[Notice, ...] = ()
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(extensions).values(to_row(extension.__dict__)))
            conn.execute(insert(audit_events).values(event_row(event)))
            owe(conn, notices, event.at)

    @db_errors
    def get_extension(self, extension_id: str) -> Extension | None:
        with self._autocommit.connect() as conn:
            found = row_by_id(extensions)
            row = conn.execute(found, {"row_id": extension_id}).mappings().first()
        return extension_of(row) if row else None

    @db_errors
    def record(self, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit_events).values(event_row(event)))

    @db_errors
    def audit_trail(self, grant_id: str) -> list[AuditEvent]:
        c = audit_events.c
        query = select(audit_events).where(c.grant_id == grant_id).order_by(c.id)
        with self._autocommit.connect() as conn:
            return [event_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def count_by_status(self) -> dict[GrantStatus, int]:
        query = select(grants.c.status, func.count()).group_by(grants.c.status)
        with self._autocommit.connect() as conn:
            return {GrantStatus(status): int(n) for status, n in conn.execute(query)}

    @db_errors
    def count_actions(self, actions: tuple[str, ...]) -> dict[str, int]:
        c = audit_events.c
        query = select(c.action, func.count()).where(c.action.in_(actions)).group_by(c.action)
        with self._autocommit.connect() as conn:
            return {str(action): int(n) for action, n in conn.execute(query)}


@dataclass(frozen=True)
class _Update:
    """A transition's conditional update: the statement's shape, its parameters, and how
    the returned row is read."""

    shape: tuple[Table, tuple[str, ...], int, tuple[Guard, ...]]
    params: dict[str, object]
    build: Callable[[RowMapping], Grant | Extension]


def _update_of(transition: GrantTransition | ExtensionTransition) -> _Update:
    row = to_row(transition.changes)
    statuses = sorted(str(s) for s in transition.expect)
    params: dict[str, object] = {f"set_{name}": value for name, value in row.items()}
    params.update({f"status_{i}": status for i, status in enumerate(statuses)})
    guards: list[Guard] = []
    build: Callable[[RowMapping], Grant | Extension]
    if isinstance(transition, GrantTransition):
        table, build, params["row_id"] = grants, grant_of, transition.grant_id
        if transition.expect_approvals is not None:
            guards.append(("approvals", True))
            params["was_approvals"] = encode_approvals(transition.expect_approvals)
        if transition.expect_unacknowledged:
            guards.append(("acknowledged_by", False))
        if transition.expect_reminder is not None:
            last = transition.expect_reminder.at
            guards.append(("reminded_at", last is not None))
            if last is not None:
                params["was_reminded_at"] = last
    else:
        table, build, params["row_id"] = extensions, extension_of, transition.extension_id
    return _Update((table, tuple(sorted(row)), len(statuses), tuple(guards)), params, build)


def _records(
    event: AuditEvent, transition: GrantTransition | ExtensionTransition
) -> dict[str, object]:
    """`recorded_update`'s parameters for the audit row and the transition's own notices."""
    params = {f"event_{name}": value for name, value in event_row(event).items()}
    for i, notice in enumerate(transition.notices):
        params[f"notice_kind_{i}"] = str(notice.kind)
        params[f"notice_grant_id_{i}"] = notice.grant_id
        params[f"notice_extension_id_{i}"] = notice.extension_id
        params[f"notice_detail_{i}"] = notice.detail
    return params
