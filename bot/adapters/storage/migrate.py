"""Bring the schema up to date (run by `eks-access migrate`, at `serve` start and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

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


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
