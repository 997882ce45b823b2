"""Bring the schema up to date (run by `eks-access migrate`, at `serve` start and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.adapters.storage.engine import normalise_url


def _script_location() -> str:
    try:  # installed: migrations/ is shipped as the package bot.migrations
        import bot.migrations as shipped

        return str(Path(shipped.__file__).parent)
    except ImportError:  # a source checkout
        return str(Path(__file__).resolve().parents[3] / "migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.attributes["url"] = normalise_url(url)
    return cfg


#: "eksm" as a 32-bit integer: the migration lock's first key (the scheduler's is "eksa").
MIGRATION_LOCK = 0x656B736D


def upgrade(url: str, revision: str = "head") -> None:
    """Replicas starting together on a fresh PostgreSQL would run the same migration twice
    and one would fail: they take turns, under an advisory lock of the schema."""
    url = normalise_url(url)
    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), revision)
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            key = {"k": MIGRATION_LOCK}
            conn.execute(text("SELECT pg_advisory_lock(:k, hashtext(current_schema()))"), key)
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"), key)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
