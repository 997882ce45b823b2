from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.support.bot import BotProcess
from tests.support.slack_stub import SlackStub
from tests.support.socket_mode import SocketModeServer

ALICE = "U0ALICE"  # requester, IAM user
DAVE = "U0DAVE"  # requester, IAM role
CAROL = "U0CAROL"  # approver
ERIN = "U0ERIN"  # approver through the on-call user group
ALICE_USERNAME = "eks-access:111122223333:user/alice"
ALICE_ARN = "arn:aws:iam::111122223333:user/alice"
DAVE_ARN = "arn:aws:iam::111122223333:role/dave-admin"


def e2e_policy(kubeconfig: str) -> dict[str, Any]:
    return {
        "slack": {"approval_channel": "C0APPROVALS"},
        "clusters": [{"name": "dev", "kubeconfig": kubeconfig, "default": True}],
        "identities": {
            ALICE: "arn:aws:iam::111122223333:user/alice",
            DAVE: "arn:aws:iam::111122223333:role/dave-admin",
        },
        "defaults": {
            "min_duration": "10s",
            "max_duration": "8h",
            "warn_before": "10s",
            "pending_timeout": "4h",
        },
        "profiles": {
            "pods-read": {
                "description": "Read pods and their logs",
                "namespaces": ["default"],
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["pods", "pods/log"],
                        "verbs": ["get", "list", "watch"],
                    }
                ],
                "max_duration": "4h",
                "requesters": ["*"],
                "approvers": [CAROL, "S0ONCALL"],
            },
            "payments-view": {
                "description": "View everything in payments",
                "namespaces": ["payments"],
                "cluster_role": "view",
                "requesters": [DAVE],
                "approvers": [CAROL],
            },
        },
    }


@pytest.fixture
def slack_stub() -> Iterator[SlackStub]:
    stub = SlackStub()
    stub.group_members["S0ONCALL"] = [ERIN]
    yield stub
    stub.close()


def list_pods_status(kube_env, arn: str, session: str | None = None, ns: str = "default") -> int:
    """What the apiserver answers when this IAM identity lists pods: signing in with a token
    the authenticator model resolves, exactly as the person would (200, 401 or 403)."""
    api = kube_env.api_client_as(arn, session)
    try:
        client.CoreV1Api(api).list_namespaced_pod(ns, _request_timeout=5)
        return 200
    except client.ApiException as e:
        return int(e.status)
    finally:
        api.close()


def alice_can_list_pods(kube_env) -> bool:
    return list_pods_status(kube_env, ALICE_ARN) == 200


@pytest.fixture
def make_bot(kube_env, tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """Bot processes (each with its own Slack stub unless given one), killed after the test.

    `socket_mode=True`: Slack reaches the bot by Socket Mode, through a server of its own."""
    made: list[BotProcess] = []

    def make(
        database_url: str,
        *,
        kubeconfig: str | None = None,
        stub: SlackStub | None = None,
        name: str = "bot",
        edit_policy: Callable[[dict[str, Any]], None] | None = None,
        socket_mode: bool = False,
    ) -> BotProcess:
        workdir = tmp_path / name
        workdir.mkdir()
        if stub is None:
            stub = SlackStub()
            stub.group_members["S0ONCALL"] = [ERIN]
        policy = e2e_policy(kubeconfig or kube_env.bot_kubeconfig)
        if edit_policy is not None:
            edit_policy(policy)
        process = BotProcess(
            policy=policy,
            database_url=database_url,
            stub=stub,
            workdir=workdir,
            socket_mode=SocketModeServer() if socket_mode else None,
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()
    for process in made:
        if process.socket_mode is not None:
            process.socket_mode.close()
    for stub in {id(p.stub): p.stub for p in made}.values():
        stub.close()


@pytest.fixture
def transport(request: pytest.FixtureRequest) -> str:
    """How Slack reaches the `bot`: "http" (signed requests to /slack/events) or "socket_mode"
    (envelopes on the bot's WebSocket). What holds on both wires parametrizes it, indirectly."""
    return str(getattr(request, "param", "http"))


#: Run a test over both of Slack's wires.
BOTH_TRANSPORTS = pytest.mark.parametrize("transport", ["http", "socket_mode"], indirect=True)


@pytest.fixture
def bot(aws_auth_reset, database_url: str, make_bot, transport: str) -> Iterator[BotProcess]:
    process = make_bot(database_url, socket_mode=transport == "socket_mode")
    process.start()
    yield process
    log = process.log()
    assert "Traceback" not in log or "unexpected error" in log, log[-3000:]
    if process.socket_mode is not None:
        # Each envelope acknowledged once, within Slack's 3 s: none left for Slack to retry.
        assert process.socket_mode.acknowledgement_problems() == []
