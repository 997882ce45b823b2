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

from sqlalchemy import ColumnElement, Insert, Select, Table, Update, bindparam, insert

from bot.adapters.storage.tables import audit_events, grants, outbox

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
