"""kill -9 between every external step and the database write that records it, on the real
apiserver; after a restart everything converges: no access past expiry, no half-applied
grant left active, no object the bot owns without a grant behind it."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from bot.domain.rbac import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from tests.e2e.conftest import ALICE, CAROL, alice_can_list_pods
from tests.e2e.test_grant_story import aws_auth, request_id
from tests.support.authenticator import EksCluster
from tests.support.kube_objects import name_of
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]

ACTIVATION_POINTS = [
    "before:ensure_mapping",
    "after:ensure_mapping",
    "before:ensure_rbac",
    "after:ensure_rbac",
]
REVOCATION_POINTS = [
    "before:delete_rbac",
    "after:delete_rbac",
    "before:remove_mapping",
    "after:remove_mapping",
]


def owned_bindings(kube_env) -> list[str]:
    rbac = client.RbacAuthorizationV1Api(kube_env.admin_api_client())
    items = (
        rbac.list_namespaced_role_binding(
            "default", label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"
        ).items
        or []
    )
    return [name_of(b) for b in items]


def grant_rows(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status FROM grants")).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def crash_grant_and_restart(bot, point: str, can_list: Callable[[], bool]) -> str:
    """Grant Alice 12 s with a crash at `point`; restart the bot after the kill; the grant id."""
    bot.start(extra_env={"EKS_ACCESS_CRASH_AT": point})
    bot.slack.command(ALICE, "grant pods-read 12s ns=default")
    grant_id = request_id(bot)
    bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    if point in ACTIVATION_POINTS:
        assert bot.wait_exit(15) == -signal.SIGKILL, "the crash point was not reached"
        bot.start()  # no crash point any more
        wait_until(can_list, 20, "the interrupted activation is finished")
    else:
        wait_until(can_list, 10, "activation")
        assert bot.wait_exit(40) == -signal.SIGKILL, "the crash point was not reached"
        bot.start()
    wait_until(lambda: not can_list(), 40, "access is removed after expiry")
    return grant_id


@pytest.mark.parametrize("point", ACTIVATION_POINTS + REVOCATION_POINTS)
def test_crash_at_each_step_converges_after_restart(
    point: str, kube_env, aws_auth_reset, sqlite_url: str, make_bot
) -> None:
    bot = make_bot(sqlite_url)
    grant_id = crash_grant_and_restart(bot, point, lambda: alice_can_list_pods(kube_env))
    wait_until(lambda: aws_auth(kube_env) == aws_auth_reset, 20, "aws-auth back to foreign content")
    wait_until(lambda: owned_bindings(kube_env) == [], 10, "no binding left")
    wait_until(lambda: grant_rows(sqlite_url) == [(grant_id, "ended")], 10, "grant ended")


@pytest.mark.parametrize("point", ACTIVATION_POINTS + REVOCATION_POINTS)
def test_crash_at_each_step_converges_after_restart_with_access_entries(
    point: str, kube_env, aws_auth_reset, sqlite_url: str, make_bot, fresh_eks, moto_server
) -> None:
    """The same, on an EKS cluster in API mode: the identity step is the bot's access entry."""
    fresh_eks.add_cluster("dev", region="eu-west-1", account="123456789012", mode="API")
    kube_env.authenticator.use_eks(EksCluster("dev", fresh_eks.url, region="eu-west-1"))

    def on_eks(policy: dict[str, Any]) -> None:
        policy["clusters"][0]["eks"] = {"name": "dev", "region": "eu-west-1"}

    bot = make_bot(sqlite_url, edit_policy=on_eks)
    bot.env.update(fresh_eks.environ())
    try:
        grant_id = crash_grant_and_restart(bot, point, lambda: alice_can_list_pods(kube_env))
        wait_until(lambda: fresh_eks.entries("dev") == {}, 20, "the bot's access entry is gone")
        wait_until(lambda: owned_bindings(kube_env) == [], 10, "no binding left")
        wait_until(lambda: grant_rows(sqlite_url) == [(grant_id, "ended")], 10, "grant ended")
        assert aws_auth(kube_env) == aws_auth_reset  # aws-auth was never the bot's to touch
    finally:
        kube_env.authenticator.use_eks(None)
