"""The schema. Migrations under migrations/ must match it (a test checks autogenerate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(name: str, nullable: bool = True) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


grants = Table(
    "grants",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("requester", String(32), nullable=False),
    Column("principal_arn", String(2048), nullable=False),
    Column("profile", String(63), nullable=False),
    Column("cluster", String(63), nullable=False),
    Column("namespace", String(63), nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    _ts("created_at", nullable=False),
    _ts("pending_until", nullable=False),
    Column("decided_by", String(32)),
    _ts("decided_at"),
    Column("decision_note", Text),
    _ts("activated_at"),
    _ts("expires_at"),
    _ts("warned_at"),
    _ts("ended_at"),
    Column("ended_by", String(32)),
    Column("end_reason", String(16)),
    Column("end_detail", Text),
    Column("k8s_username", String(512)),
    #: aws-auth | access-entry | existing (bot.domain.grants.MappedVia), set at activation.
    Column("mapped_via", String(16)),
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    Column("last_error", Text),
    Column("approval_channel", String(32)),
    Column("approval_ts", String(32)),
    Column("session_name", String(64)),
    #: The approvers who approved so far, space-separated, in order (a quorum fills it).
    Column("approvals", Text, nullable=False, default="", server_default=""),
    #: When the approvers were last reminded of this pending request.
    _ts("reminded_at"),
    #: Applied at once by `/eks-access break-glass`, without approval.
    Column("break_glass", Boolean, nullable=False, default=False, server_default=false()),
    Column("acknowledged_by", String(32)),
    _ts("acknowledged_at"),
    #: The break-glass announcement in the alert channel (the other one is the approval message).
    Column("alert_channel", String(32)),
    Column("alert_ts", String(32)),
    Index(None, "status", "expires_at"),
    Index(None, "requester", "status"),
    Index(None, "principal_arn", "cluster", "status"),
)

extensions = Table(
    "extensions",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("grant_id", String(16), nullable=False, index=True),
    Column("requested_by", String(32), nullable=False),
    Column("duration_s", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    _ts("created_at", nullable=False),
    _ts("pending_until", nullable=False),
    Column("decided_by", String(32)),
    _ts("decided_at"),
    Column("decision_note", Text),
    Column("approval_channel", String(32)),
    Column("approval_ts", String(32)),
    Index(None, "status", "pending_until"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    _ts("at", nullable=False),
    Column("actor", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("grant_id", String(16), index=True),
    Column("detail", Text, nullable=False, default=""),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    #: bot.domain.notices.NoticeKind
    Column("kind", String(32), nullable=False),
    Column("grant_id", String(16), nullable=False),
    Column("extension_id", String(16)),
    Column("detail", Text, nullable=False, default=""),
    _ts("created_at", nullable=False),
    #: When the worker may try (again); the order of delivery is the order of ids, per grant.
    _ts("due_at", nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    #: Set once Slack took it (delivered) or the bot gave up on it; owed while both are null.
    _ts("delivered_at"),
    _ts("given_up_at"),
    Index(None, "delivered_at", "given_up_at", "due_at"),
)
