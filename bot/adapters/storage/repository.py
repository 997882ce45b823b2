"""GrantStore on SQLAlchemy Core: conditional updates, audit in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import overload

from sqlalchemy import (
    ColumnElement,
    Engine,
    RowMapping,
    and_,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)

from bot.adapters.storage.outbox import OutboxRows, owe
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
    HOLDS_ACCESS,
    OPEN,
    AuditEvent,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
    MappedVia,
)
from bot.domain.notices import Notice, home_refresh
from bot.domain.transition_values import ExtensionTransition, GrantTransition


def _in(statuses: Collection[GrantStatus]) -> ColumnElement[bool]:
    return grants.c.status.in_([str(s) for s in statuses])


def _attempt_due(now: datetime) -> ColumnElement[bool]:
    c = grants.c
    return or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)


class SqlGrantStore(OutboxRows):
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

    # -- named queries ---------------------------------------------------------------------

    def _grants(self, *where: ColumnElement[bool], limit: int | None = None) -> list[Grant]:
        query = select(grants).where(*where).order_by(grants.c.expires_at, grants.c.created_at)
        if limit is not None:
            query = query.limit(limit)
        with self._reads.connect() as conn:
            return [grant_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def open_grants_of(self, requester: str) -> list[Grant]:
        return sorted(
            self._grants(_in(OPEN), grants.c.requester == requester), key=lambda g: g.created_at
        )

    @db_errors
    def recent_grants_of(self, requester: str, *, limit: int) -> list[Grant]:
        c = grants.c
        query = (
            select(grants)
            .where(~_in(OPEN), c.requester == requester)
            .order_by(func.coalesce(c.ended_at, c.created_at).desc(), c.id.desc())
            .limit(limit)
        )
        with self._reads.connect() as conn:
            return [grant_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def pending_requests(self, *, limit: int) -> list[Grant]:
        return self._grants(_in({GrantStatus.PENDING}), limit=limit)  # no expiry yet: by age

    @db_errors
    def access_holders(self, *, principal_arn: str, cluster: str) -> list[Grant]:
        c = grants.c
        return self._grants(
            _in(HOLDS_ACCESS), c.principal_arn == principal_arn, c.cluster == cluster
        )

    @db_errors
    def due_for_expiry(self, now: datetime) -> list[Grant]:
        return self._grants(_in(HOLDS_ACCESS), grants.c.expires_at <= now)

    @db_errors
    def activations_due(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.ACTIVATING}), _attempt_due(now))

    @db_errors
    def revocations_due(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.REVOKING}), _attempt_due(now))

    @db_errors
    def requests_past_deadline(self, now: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.PENDING}), grants.c.pending_until <= now)

    @db_errors
    def reminders_due(self, now: datetime, every: timedelta) -> list[Grant]:
        c = grants.c
        since = now - every
        return self._grants(
            _in({GrantStatus.PENDING}),
            c.approval_ts.is_not(None),
            c.pending_until > now,
            or_(c.reminded_at <= since, and_(c.reminded_at.is_(None), c.created_at <= since)),
        )

    @db_errors
    def active_expiring_by(self, at: datetime) -> list[Grant]:
        return self._grants(_in({GrantStatus.ACTIVE}), grants.c.expires_at <= at)

    @db_errors
    def due_for_warning(self, now: datetime, horizon: timedelta) -> list[Grant]:
        c = grants.c
        return self._grants(
            _in({GrantStatus.ACTIVE}), c.warned_at.is_(None), c.expires_at <= now + horizon
        )

    @db_errors
    def grants_since(self, at: datetime) -> list[Grant]:
        c = grants.c
        # Created since `at` implies ended (if at all) since `at`: one condition covers both.
        query = (
            select(grants)
            .where(or_(c.ended_at.is_(None), c.ended_at >= at))
            .order_by(c.created_at, c.id)
        )
        with self._reads.connect() as conn:
            return [grant_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def access_refs(self, cluster: str, *, after: str = "", limit: int = 0) -> list[GrantRef]:
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
        )
        query = (
            query.where(_in(HOLDS_ACCESS), c.cluster == cluster, c.id > after)
            .order_by(c.id)
            .limit(limit or None)
        )
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
            return [extension_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def pending_extension_of(self, grant_id: str) -> Extension | None:
        found = self._extensions(extensions.c.grant_id == grant_id)
        return found[0] if found else None

    @db_errors
    def extensions_past_deadline(self, now: datetime) -> list[Extension]:
        return self._extensions(extensions.c.pending_until <= now)

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
