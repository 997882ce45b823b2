"""GrantStore on SQLAlchemy Core: conditional updates, audit in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import overload

from sqlalchemy import (
    Engine,
    RowMapping,
    func,
    insert,
    inspect,
    select,
    text,
    update,
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
        # Reads are single statements: autocommit spares each one a BEGIN/ROLLBACK round trip.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    @db_errors
    def ping(self) -> None:
        with self._reads.connect() as conn:
            conn.execute(text("SELECT 1"))

    @db_errors
    def has_schema(self) -> bool:
        """Whether the database holds the bot's tables (read-only commands never create them,
        nor an SQLite file)."""
        url = self.engine.url
        path = url.database or ":memory:"
        if url.get_backend_name() == "sqlite" and path != ":memory:" and not Path(path).exists():
            return False
        with self._reads.connect() as conn:
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
        with self._reads.connect() as conn:
            row = conn.execute(select(grants).where(grants.c.id == grant_id)).mappings().first()
        return grant_of(row) if row else None

    @overload
    def apply(self, transition: GrantTransition) -> Grant | None: ...

    @overload
    def apply(self, transition: ExtensionTransition) -> Extension | None: ...

    @db_errors
    def apply(self, transition: GrantTransition | ExtensionTransition) -> Grant | Extension | None:
        """One transaction: `UPDATE … WHERE id = ? AND status IN (…) RETURNING *` (PostgreSQL
        and SQLite >= 3.35 both return the new row, saving a read), then the audit row."""
        build: Callable[[RowMapping], Grant | Extension]
        guards = []
        if isinstance(transition, GrantTransition):
            table, build, row_id = grants, grant_of, transition.grant_id
            if transition.expect_approvals is not None:
                guards.append(table.c.approvals == encode_approvals(transition.expect_approvals))
            if transition.expect_unacknowledged:
                guards.append(table.c.acknowledged_by.is_(None))
            if transition.expect_reminder is not None:
                last = transition.expect_reminder.at
                c = table.c.reminded_at
                guards.append(c.is_(None) if last is None else c == last)
        else:
            table, build, row_id = extensions, extension_of, transition.extension_id
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(table)
                    .where(
                        table.c.id == row_id,
                        table.c.status.in_([str(s) for s in transition.expect]),
                        *guards,
                    )
                    .values(to_row(transition.changes))
                    .returning(*table.c)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            applied = build(row)
            owed = (
                transition.owed(applied)
                if isinstance(transition, GrantTransition) and isinstance(applied, Grant)
                else transition.notices
            )
            if transition.event is not None:
                conn.execute(insert(audit_events).values(event_row(transition.event)))
                owe(conn, owed, transition.event.at)
            elif owed:
                raise ValueError("a transition that owes messages must carry its audit event")
        if self.on_applied is not None:
            self.on_applied(applied)
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
        with self._reads.connect() as conn:
            row = (
                conn.execute(select(extensions).where(extensions.c.id == extension_id))
                .mappings()
                .first()
            )
        return extension_of(row) if row else None

    @db_errors
    def record(self, event: AuditEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit_events).values(event_row(event)))

    @db_errors
    def audit_trail(self, grant_id: str) -> list[AuditEvent]:
        c = audit_events.c
        query = select(audit_events).where(c.grant_id == grant_id).order_by(c.id)
        with self._reads.connect() as conn:
            return [event_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def count_by_status(self) -> dict[GrantStatus, int]:
        query = select(grants.c.status, func.count()).group_by(grants.c.status)
        with self._reads.connect() as conn:
            return {GrantStatus(status): int(n) for status, n in conn.execute(query)}

    @db_errors
    def count_actions(self, actions: tuple[str, ...]) -> dict[str, int]:
        c = audit_events.c
        query = select(c.action, func.count()).where(c.action.in_(actions)).group_by(c.action)
        with self._reads.connect() as conn:
            return {str(action): int(n) for action, n in conn.execute(query)}
