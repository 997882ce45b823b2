"""Migrations are checked: one head, upgrade, autogenerate finds no diff, downgrade, upgrade."""

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.tables import metadata


def test_one_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_upgrade_matches_models_then_downgrade_and_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    migrate.downgrade(database_url, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database_url)
    with engine.connect() as conn:
        assert {"grants", "extensions", "audit_events"} <= set(inspect(conn).get_table_names())
    engine.dispose()


@pytest.mark.postgres
def test_replicas_starting_together_on_a_fresh_database_both_migrate(postgres_url: str) -> None:
    """Each process migrates at start; on PostgreSQL they take turns under a lock."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            migrate.upgrade(postgres_url)
        except BaseException as e:  # a failed start, to report
            errors.append(e)

    replicas = [threading.Thread(target=start) for _ in range(3)]
    for t in replicas:
        t.start()
    for t in replicas:
        t.join()
    assert errors == []
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
