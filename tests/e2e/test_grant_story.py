"""The whole story on real parts: the bot process reached over both of Slack's wires (signed
HTTP, and Socket Mode envelopes on its WebSocket), the Slack Web API stub, the real
kube-apiserver (with the bot's least-privilege identity), SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time

import pytest
import yaml
from kubernetes import client

from bot.adapters.slack.ids import Action, View
from tests.e2e.conftest import (
    ALICE,
    ALICE_USERNAME,
    BOTH_TRANSPORTS,
    CAROL,
    DAVE,
    alice_can_list_pods,
)
from tests.support.bot import BotProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube, BOTH_TRANSPORTS]


def aws_auth(kube_env) -> dict[str, str]:
    cm = client.CoreV1Api(kube_env.admin_api_client()).read_namespaced_config_map(
        "aws-auth", "kube-system"
    )
    return dict(cm.data or {})


def request_id(bot: BotProcess) -> str:
    text = bot.stub.wait_for(
        lambda: [r for r in bot.stub.responses() if "sent for approval" in r],
        what="the request confirmation",
    )[-1]
    match = re.search(r"Request `([a-z2-9]{8})`", text)
    assert match, text
    return match.group(1)


def last_response(bot: BotProcess, count_before: int) -> str:
    return bot.stub.wait_for(
        lambda: bot.stub.responses()[count_before:], what="an ephemeral answer"
    )[-1]


def click(bot: BotProcess, user: str, action: Action, value: str) -> str:
    before = len(bot.stub.responses())
    status, _ = bot.slack.click(user, str(action), value)
    assert status == 200
    return last_response(bot, before)


def test_request_approve_use_expire(bot: BotProcess, kube_env, aws_auth_reset) -> None:
    stub = bot.stub
    can_list = lambda: kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")  # noqa: E731
    assert not can_list()

    status, _ = bot.slack.command(ALICE, "grant pods-read 15s ns=default looking at INC-42")
    assert status == 200
    grant_id = request_id(bot)
    posted = stub.wait_for(
        lambda: [c for c in stub.of("chat.postMessage") if c.args.get("channel") == "C0APPROVALS"]
    )[0]
    buttons = [e for b in posted.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {Action.APPROVE_GRANT, Action.DENY_GRANT}
    assert {b["value"] for b in buttons} == {grant_id}  # only the id travels
    assert "INC-42" in str(posted.args["blocks"])

    assert "not an approver" in click(bot, DAVE, Action.APPROVE_GRANT, grant_id)
    assert "not an approver" in click(bot, ALICE, Action.APPROVE_GRANT, grant_id)
    assert not can_list()

    answer = click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    assert f"Approved `{grant_id}`: active until" in answer
    assert kube_env.settled_can(ALICE_USERNAME, [], "list", "pods", "default", expect=True)
    assert not kube_env.can(ALICE_USERNAME, [], "delete", "pods", "default")
    assert not kube_env.can(ALICE_USERNAME, [], "list", "pods", "kube-system")
    # And Alice herself, signing in with her IAM identity's token, lists the pods.
    wait_until(lambda: alice_can_list_pods(kube_env), 10, "Alice lists pods as herself")

    data = aws_auth(kube_env)
    assert data["mapRoles"] == aws_auth_reset["mapRoles"]  # untouched key: byte-identical
    assert data["mapAccounts"] == aws_auth_reset["mapAccounts"]
    users = yaml.safe_load(data["mapUsers"])
    assert users[: len(yaml.safe_load(aws_auth_reset["mapUsers"]))] == yaml.safe_load(
        aws_auth_reset["mapUsers"]
    )
    assert {
        "userarn": "arn:aws:iam::111122223333:user/alice",
        "username": ALICE_USERNAME,
        "groups": [],
    } in users

    assert "already approved by <@U0CAROL>" in click(bot, CAROL, Action.APPROVE_GRANT, grant_id)

    dm = stub.wait_for(lambda: [t for t in stub.texts(channel=ALICE) if "is active until" in t])[0]
    assert "kubectl" in dm and ALICE_USERNAME in dm
    stub.wait_for(
        lambda: [c for c in stub.of("chat.update") if "active until" in str(c.args)],
        what="approval message update",
    )
    stub.wait_for(
        lambda: [t for t in stub.texts(channel=ALICE) if "ends" in t and "Extend" in t],
        timeout=15,
        what="expiry warning",
    )

    deadline = time.monotonic() + 30
    while can_list() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not can_list(), "access outlived its expiry"
    wait_until(lambda: not alice_can_list_pods(kube_env), 10, "Alice's own token stops working")
    stub.wait_for(
        lambda: [t for t in stub.texts(channel=ALICE) if "has expired" in t], what="expiry DM"
    )
    stub.wait_for(
        lambda: [c for c in stub.of("chat.update") if "(expired)" in str(c.args)],
        what="approval message ended",
    )
    time.sleep(0.5)
    after = aws_auth(kube_env)
    assert after == aws_auth_reset, "the bot's entry must be gone and every foreign entry intact"

    before = len(stub.responses())
    bot.slack.command(ALICE, "list")
    assert "no pending requests or active grants" in last_response(bot, before)


def test_deny_with_reason_reaches_the_requester(bot: BotProcess, kube_env) -> None:
    stub = bot.stub
    bot.slack.command(DAVE, "grant payments-view 1h need to read configmaps")
    grant_id = request_id(bot)
    status, _ = bot.slack.click(CAROL, str(Action.DENY_GRANT), grant_id)
    assert status == 200
    opened = stub.wait_for(lambda: stub.of("views.open"), what="the deny dialog")[0]
    assert opened.args["view"]["private_metadata"] == f"grant:{grant_id}"
    status, body = bot.slack.submit_view(
        CAROL,
        str(View.DENY_REASON),
        f"grant:{grant_id}",
        {"reason": {"reason_input": "use the read-only dashboard"}},
    )
    assert status == 200 and "errors" not in body
    dm = stub.wait_for(lambda: [t for t in stub.texts(channel=DAVE) if "denied" in t])[0]
    assert "use the read-only dashboard" in dm and "<@U0CAROL>" in dm
    assert not kube_env.can(
        "eks-access:111122223333:role/dave-admin", [], "list", "configmaps", "payments"
    )


def test_role_principal_with_cluster_role_and_revoke(
    bot: BotProcess, kube_env, aws_auth_reset
) -> None:
    username = "eks-access:111122223333:role/dave-admin"
    bot.slack.command(DAVE, "grant payments-view 1h")
    grant_id = request_id(bot)
    assert "Approved" in click(bot, CAROL, Action.APPROVE_GRANT, grant_id)
    assert kube_env.settled_can(username, [], "list", "configmaps", "payments", expect=True)
    roles = yaml.safe_load(aws_auth(kube_env)["mapRoles"])
    assert {
        "rolearn": "arn:aws:iam::111122223333:role/dave-admin",
        "username": username,
        "groups": [],
    } in roles
    before = len(bot.stub.responses())
    bot.slack.command(DAVE, f"revoke {grant_id}")
    assert "revoked" in last_response(bot, before)
    assert not kube_env.settled_can(username, [], "list", "configmaps", "payments", expect=False)
    assert aws_auth(kube_env) == aws_auth_reset
