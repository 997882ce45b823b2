"""The store's named reads of grants and extensions (a part of `SqlGrantStore`): the lists the
sweep, reconcile, the App Home, `list` and the audit export ask for."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from bot.adapters.storage.rows import db_errors, extension_of, grant_of
from bot.adapters.storage.tables import extensions, grants
from bot.domain.grants import (
    HOLDS_ACCESS,
    OPEN,
    Extension,
    ExtensionStatus,
    Grant,
    GrantRef,
    GrantStatus,
    MappedVia,
)


def _in(statuses: Collection[GrantStatus]) -> ColumnElement[bool]:
    return grants.c.status.in_([str(s) for s in statuses])


def _attempt_due(now: datetime) -> ColumnElement[bool]:
    c = grants.c
    return or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now)


class GrantQueries:
    """Reads of many records by condition, each one statement on an autocommit connection."""

    engine: Engine
    _autocommit: Engine

    def _grants(self, *where: ColumnElement[bool], limit: int | None = None) -> list[Grant]:
        query = select(grants).where(*where).order_by(grants.c.expires_at, grants.c.created_at)
        if limit is not None:
            query = query.limit(limit)
        with self._autocommit.connect() as conn:
            return [grant_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def open_grants_of(self, requester: str) -> list[Grant]:
        return sorted(
            self._grants(_in(OPEN), grants.c.requester == requester),
            key=lambda g: g.created_at,
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
        with self._autocommit.connect() as conn:
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
        with self._autocommit.connect() as conn:
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
        with self._autocommit.connect() as conn:
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
        with self._autocommit.connect() as conn:
            return [extension_of(r) for r in conn.execute(query).mappings()]

    @db_errors
    def pending_extension_of(self, grant_id: str) -> Extension | None:
        found = self._extensions(extensions.c.grant_id == grant_id)
        return found[0] if found else None

    @db_errors
    def extensions_past_deadline(self, now: datetime) -> list[Extension]:
        return self._extensions(extensions.c.pending_until <= now)
