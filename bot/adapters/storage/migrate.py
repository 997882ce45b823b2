"""Bring the schema up to date (run by `eks-access migrate`, at `serve` start and in tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.adapters.storage.engine import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it runs: the serving process migrates in a child process
# (`upgrade_in_child`) and never loads it, nor the migration scripts (about 10 MB).


class MigrationFailed(RuntimeError):
    """The schema could not be brought up to date; the migration's own log says why."""


def _script_location() -> str:
    try:  # installed: migrations/ is shipped as the package bot.migrations
        import bot.migrations as shipped

        return str(Path(shipped.__file__).parent)
    except ImportError:  # a source checkout
        return str(Path(__file__).resolve().parents[3] / "migrations")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _script_location())
    cfg.attributes["url"] = normalise_url(url)
    return cfg


#: "eksm" as a 32-bit integer: the migration lock's first key (the scheduler's is "eksa").
MIGRATION_LOCK = 0x656B736D


def upgrade(url: str, revision: str = "head") -> None:
    """Replicas starting together on a fresh PostgreSQL would run the same migration twice
    and one would fail: they take turns, under an advisory lock of the schema."""
    from alembic import command

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
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def upgrade_in_child(url: str) -> None:
    """`upgrade`, run by `eks-access migrate` in a child process with this one's settings
    (its log lines go where this process's go, in the same format): what the migration
    loads is given back to the system when it exits."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"],
        env={**os.environ, "DATABASE_URL": url},
        stdout=sys.stderr,  # "schema is up to date" is a log line here, not output
        check=False,
    )
    if done.returncode != 0:
        raise MigrationFailed(
            f"eks-access could not bring the database schema up to date (`eks-access migrate` "
            f"exited with {done.returncode}); its log above says why."
        )
