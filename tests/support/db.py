"""pytest plugin: real databases. SQLite always; PostgreSQL when reachable (a fresh schema per
test in the `test` database). Set EKS_ACCESS_REQUIRE_POSTGRES=1 to fail instead of skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.storage import migrate
from bot.adapters.storage.engine import make_engine
from bot.adapters.storage.repository import SqlGrantStore

POSTGRES_URL = os.environ.get(
    "EKS_ACCESS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as e:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {e.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _postgres_problem()
    if problem:
        if os.environ.get("EKS_ACCESS_REQUIRE_POSTGRES") == "1":
            pytest.fail(problem)
        pytest.skip(problem)


@pytest.fixture
def postgres_url(postgres_available: None) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'eks-access.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def store(database_url: str) -> Iterator[SqlGrantStore]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlGrantStore(engine)
    engine.dispose()
