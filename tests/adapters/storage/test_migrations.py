"""Migrations are checked: one head, upgrade, autogenerate finds no diff, downgrade, upgrade."""

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
