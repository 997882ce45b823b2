"""Alembic environment: the URL comes from the caller (eks-access migrate, tests) or settings."""

from __future__ import annotations

from alembic import context

from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.tables import metadata
from bot.config import Settings

config = context.config


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    # Tables other tools keep in the same database are not ours to compare or drop.
    return not (type_ == "table" and name is not None and name.startswith("apscheduler"))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        url = config.attributes.get("url") or Settings.from_env().database_url
        engine = make_engine(url)
        with engine.connect() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        include_name=_include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; run eks-access migrate.")
run_migrations_online()
