from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot import BotProcess
from tests.support.slack_stub import SlackStub

ALICE = "U0ALICE"  # requester, IAM user
DAVE = "U0DAVE"  # requester, IAM role
CAROL = "U0CAROL"  # approver
ERIN = "U0ERIN"  # approver through the on-call user group
ALICE_USERNAME = "eks-access:111122223333:user/alice"


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


@pytest.fixture
def bot(
    kube_env, aws_auth_reset, database_url: str, slack_stub: SlackStub, tmp_path: Path
) -> Iterator[BotProcess]:
    process = BotProcess(
        policy=e2e_policy(kube_env.bot_kubeconfig),
        database_url=database_url,
        stub=slack_stub,
        workdir=tmp_path,
    )
    process.start()
    yield process
    process.kill()
    log = process.log()
    assert "Traceback" not in log or "unexpected error" in log, log[-3000:]
