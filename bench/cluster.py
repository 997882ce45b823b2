"""The apiserver, the databases and the Kubernetes helpers the measurements share.

The apiserver is started by the test harness itself: the generator functions behind the
`kube_env` and `aws_auth_reset` fixtures (tests/support/kube.py) are driven directly, so the
bench gets exactly what the end-to-end tests get: envtest from ~/.cache/eks-access/envtest,
the bot's least-privilege RBAC, the grant namespaces and a realistic aws-auth.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from kubernetes import client
from sqlalchemy import create_engine, text

from bot.domain import aws_auth
from bot.domain import aws_auth_text as text_edits
from tests.support import kube
from tests.support.kube import KubeEnv

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRES_ADMIN_DB = "test"


@contextlib.contextmanager
def cluster() -> Iterator[KubeEnv]:
    """envtest + the bot's RBAC, exactly as the `kube_env` fixture sets it up."""
    fixture: Generator[KubeEnv, None, None] = kube.kube_env.__wrapped__()
    env = next(fixture)
    try:
        yield env
    finally:
        with contextlib.suppress(StopIteration):
            next(fixture)


def reset_aws_auth(env: KubeEnv) -> dict[str, str]:
    """A fresh realistic aws-auth and no bot or fixture RBAC left in the grant namespaces."""
    data: dict[str, str] = kube.aws_auth_reset.__wrapped__(env)
    return data


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL (not a schema in `test`): advisory
    locks are per database, so a test run using `test` cannot take the scheduler lock from
    the bench's bot, nor the bench from it."""
    name = f"eks_access_bench_{secrets.token_hex(4)}"
    admin = create_engine(
        f"{POSTGRES_SERVER}/{POSTGRES_ADMIN_DB}",
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def database(kind: str, folder: Path, name: str) -> Iterator[str]:
    """A new database for one bot: a throw-away PostgreSQL database, or a SQLite file."""
    if kind == "postgres":
        with postgres_database() as url:
            yield url
    else:
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / (name + '.db')}"


def postgres_version() -> str:
    engine = create_engine(f"{POSTGRES_SERVER}/{POSTGRES_ADMIN_DB}")
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar()).split()[0]
    finally:
        engine.dispose()


def can_list_pods(admin: client.ApiClient, user: str, namespace: str = "default") -> bool:
    """The apiserver's own answer, as `KubeEnv.can` gives it (a SubjectAccessReview)."""
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=[],
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb="list", group="", resource="pods"
            ),
        )
    )
    answer = client.AuthorizationV1Api(admin).create_subject_access_review(
        review, _request_timeout=10
    )
    return bool(answer.status and answer.status.allowed)


def wait_allowed(
    admin: client.ApiClient, user: str, timeout: float, poll: float = 0.005
) -> float | None:
    """perf_counter() at the first SubjectAccessReview that says allowed; None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if can_list_pods(admin, user):
            return time.perf_counter()
        time.sleep(poll)
    return None


def read_aws_auth(admin: client.ApiClient) -> client.V1ConfigMap:
    cm: client.V1ConfigMap = client.CoreV1Api(admin).read_namespaced_config_map(
        "aws-auth", "kube-system", _request_timeout=10
    )
    return cm


def foreign_entries(data: dict[str, str]) -> list[Any]:
    """Every entry of mapRoles and mapUsers the bot does not own, in canonical form, plus
    every other key verbatim: what must survive any number of bot edits."""
    out: list[Any] = []
    for key in ("mapRoles", "mapUsers"):
        for item in text_edits.load_list(data.get(key, "")):
            if isinstance(item, dict):
                username, arn = item.get("username"), item.get("rolearn", item.get("userarn"))
                # The bot's own test of which entries are its own.
                if (
                    isinstance(username, str)
                    and isinstance(arn, str)
                    and aws_auth.owns(arn, username)
                ):
                    continue
            out.append((key, text_edits.canonical(item)))
    out.extend(("key", k, v) for k, v in sorted(data.items()) if k not in ("mapRoles", "mapUsers"))
    return out


def append_to_map_users(admin: client.ApiClient, entry_text: str, attempts: int = 50) -> int:
    """A foreign writer's read-modify-write (resourceVersion sent, so no lost update).
    Returns how many 409 conflicts it met."""
    core = client.CoreV1Api(admin)
    conflicts = 0
    for _ in range(attempts):
        cm = read_aws_auth(admin)
        data = dict(cm.data or {})
        users = data.get("mapUsers", "")
        data["mapUsers"] = (users if users.endswith("\n") or not users else users + "\n") + (
            entry_text
        )
        cm.data = data
        try:
            core.replace_namespaced_config_map("aws-auth", "kube-system", cm, _request_timeout=10)
            return conflicts
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            conflicts += 1
            time.sleep(0.01)
    raise RuntimeError(f"aws-auth kept changing: {attempts} conflicts in a row")
