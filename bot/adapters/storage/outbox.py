"""The outbox's rows: every Slack message the bot owes, until it is delivered or given up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, update

from bot.adapters.storage.rows import db_errors, event_row
from bot.adapters.storage.statements import INSERT_OUTBOX, update_by_id
from bot.adapters.storage.tables import audit_events, outbox
from bot.domain.grants import AuditEvent
from bot.domain.notices import Notice, NoticeKind, OwedNotice

DELIVERED = update_by_id(outbox, ("delivered_at",))


class OutboxRows:
    """The outbox worker's reads and writes (a part of `SqlGrantStore`)."""

    engine: Engine
    _autocommit: Engine

    @db_errors
    def owed(self, *, limit: int) -> list[OwedNotice]:
        """Undelivered notices, oldest first."""
        c = outbox.c
        query = (
            select(outbox)
            .where(c.delivered_at.is_(None), c.given_up_at.is_(None))
            .order_by(c.id)
            .limit(limit)
        )
        with self._autocommit.connect() as conn:
            return [_owed(r) for r in conn.execute(query).mappings()]

    @db_errors
    def owed_count(self) -> int:
        c = outbox.c
        query = select(func.count()).where(c.delivered_at.is_(None), c.given_up_at.is_(None))
        with self._autocommit.connect() as conn:
            return int(conn.execute(query).scalar_one())

    @db_errors
    def delivered(self, notice_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(DELIVERED, {"row_id": notice_id, "set_delivered_at": now})

    @db_errors
    def delivered_all(self, notice_ids: list[int], now: datetime) -> None:
        """Several notices done with at once (those a later one made unnecessary)."""
        with self.engine.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id.in_(notice_ids)).values(delivered_at=now))

    @db_errors
    def retry_notice(self, notice_id: int, *, at: datetime, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == notice_id)
                .values(due_at=at, attempts=outbox.c.attempts + 1, last_error=error[:500])
            )

    @db_errors
    def give_up_notice(self, notice_id: int, event: AuditEvent) -> None:
        """No more tries: recorded on the row and in the grant's audit trail, together."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == notice_id)
                .values(given_up_at=event.at, last_error=event.detail[:500])
            )
            conn.execute(insert(audit_events).values(event_row(event)))


def owe(conn: Connection, notices: tuple[Notice, ...], now: datetime) -> None:
    if notices:
        conn.execute(
            INSERT_OUTBOX,
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
