"""The store's hot statements, built once per shape and run with bound parameters.

Building a Core statement and computing its cache key costs more CPU than its round trip to
PostgreSQL: about 0.6 ms of a transition's 1.5 ms, and a burst of approvals is CPU-bound
(one process, one interpreter lock). The statements every approval and delivery runs are
therefore built once per shape (the columns a transition sets, its guards) and executed with
parameters; a statement object keeps its cache key, so SQLAlchemy's compiled cache then
serves its SQL without rebuilding anything. The SQL is the same as a statement built afresh.
"""

from __future__ import annotations

import functools

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    insert,
    literal,
    select,
    union_all,
)

from bot.adapters.storage.tables import UTCDateTime, audit_events, grants, outbox
from bot.domain.notices import NoticeKind

#: The outbox columns a notice fills, in the order `recorded_update` selects them.
_NOTICE_COLUMNS = ["kind", "grant_id", "extension_id", "detail", "created_at", "due_at", "attempts"]

#: A guard: (column, True) compares it with `was_<column>`, (column, False) is `IS NULL`.
Guard = tuple[str, bool]


def by_id(table: Table) -> ColumnElement[bool]:
    return table.c.id == bindparam("row_id", type_=table.c.id.type)


@functools.lru_cache(maxsize=256)
def conditional_update(
    table: Table, columns: tuple[str, ...], statuses: int, guards: tuple[Guard, ...]
) -> Update:
    """`UPDATE table SET <columns> WHERE id = :row_id AND status IN (:status_0 …) AND
    <guards> RETURNING *`. Parameters: `row_id`, `status_<i>` for each of `statuses`,
    `set_<column>` for each column set, and `was_<column>` for each guard `(column, True)`;
    a guard `(column, False)` is `column IS NULL`."""
    c = table.c
    where = [
        by_id(table),
        c.status.in_([bindparam(f"status_{i}", type_=c.status.type) for i in range(statuses)]),
    ]
    for column, compared in guards:
        where.append(
            c[column] == bindparam(f"was_{column}", type_=c[column].type)
            if compared
            else c[column].is_(None)
        )
    values = {name: bindparam(f"set_{name}", type_=c[name].type) for name in columns}
    return table.update().where(*where).values(values).returning(*c)


@functools.lru_cache(maxsize=256)
def recorded_update(
    table: Table,
    columns: tuple[str, ...],
    statuses: int,
    guards: tuple[Guard, ...],
    notices: int,
    refresh: bool,
) -> Select[tuple[object, ...]]:
    """PostgreSQL only: `conditional_update`, its audit row and the notices it owes, in one
    statement of data-modifying CTEs (`WITH applied AS (UPDATE … RETURNING *), audit AS
    (INSERT …), owed AS (INSERT …) SELECT * FROM applied`). One round trip, no transaction to
    open and commit, and as atomic: the rows are written only when the update matched.

    Parameters: those of `conditional_update`; `event_at`, `event_actor`, `event_action`,
    `event_grant_id`, `event_detail` for the audit row; `notice_kind_<i>`,
    `notice_grant_id_<i>`, `notice_extension_id_<i>`, `notice_detail_<i>` for each of
    `notices`, written in that order; with `refresh`, a last notice: the App Home of the
    updated grant's requester.
    """
    applied = conditional_update(table, columns, statuses, guards).cte("applied")
    a, o = audit_events.c, outbox.c
    at = bindparam("event_at", type_=UTCDateTime())
    audit = insert(audit_events).from_select(
        ["at", "actor", "action", "grant_id", "detail"],
        select(
            at,
            bindparam("event_actor", type_=a.actor.type),
            bindparam("event_action", type_=a.action.type),
            bindparam("event_grant_id", type_=a.grant_id.type),
            bindparam("event_detail", type_=a.detail.type),
        ).select_from(applied),
    )
    rows = [
        select(
            literal(i, Integer()).label("n"),
            *(
                bindparam(f"notice_{name}_{i}", type_=o[name].type).label(name)
                for name in ("kind", "grant_id", "extension_id", "detail")
            ),
        ).select_from(applied)
        for i in range(notices)
    ]
    if refresh:
        rows.append(
            select(
                literal(notices, Integer()).label("n"),
                literal(str(NoticeKind.HOME_REFRESH), o.kind.type).label("kind"),
                applied.c.id.label("grant_id"),
                literal(None, o.extension_id.type).label("extension_id"),
                applied.c.requester.label("detail"),
            )
        )
    statement = select(applied).add_cte(audit.cte("audit"))
    if rows:
        owed = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("notices")
        written = select(
            owed.c.kind, owed.c.grant_id, owed.c.extension_id, owed.c.detail, at, at, literal(0)
        ).order_by(owed.c.n)  # ids in the order the notices are owed
        statement = statement.add_cte(
            insert(outbox).from_select(_NOTICE_COLUMNS, written).cte("owed")
        )
    return statement


@functools.lru_cache(maxsize=32)
def update_by_id(table: Table, columns: tuple[str, ...]) -> Update:
    """`UPDATE table SET <columns> WHERE id = :row_id` (parameters `row_id`, `set_<column>`)."""
    values = {name: bindparam(f"set_{name}", type_=table.c[name].type) for name in columns}
    return table.update().where(by_id(table)).values(values)


@functools.lru_cache(maxsize=8)
def row_by_id(table: Table) -> Select[tuple[object, ...]]:
    return table.select().where(by_id(table))


INSERT_AUDIT: Insert = insert(audit_events)
INSERT_OUTBOX: Insert = insert(outbox)
GRANT_BY_ID = row_by_id(grants)
