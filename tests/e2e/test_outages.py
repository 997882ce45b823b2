"""Outages of the apiserver, the database and Slack, each behind a proxy the test cuts."""

from __future__ import annotations

import re
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, CAROL, alice_can_list_pods
from tests.e2e.test_grant_story import aws_auth, request_id
from tests.support.bot import BotProcess
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]


def ask(bot: BotProcess, user: str, text_: str) -> str:
    before = len(bot.stub.responses())
    bot.slack.command(user, text_)
    return bot.stub.wait_for(lambda: bot.stub.responses()[before:], what=text_)[-1]


def proxied_kubeconfig(kube_env, proxy: TcpProxy, tmp_path: Path) -> str:
    config = yaml.safe_load(Path(kube_env.bot_kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    path = tmp_path / "kubeconfig-proxied.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def apiserver_proxy(kube_env):
    port = int(urllib.parse.urlparse(kube_env.url).port or 443)
    proxy = TcpProxy("127.0.0.1", port)
    yield proxy
    proxy.close()


def active_grant(bot: BotProcess, kube_env, duration: str = "12s") -> str:
    bot.slack.command(ALICE, f"grant pods-read {duration} ns=default")
    grant_id = request_id(bot)
    bot.slack.click(CAROL, str(Action.APPROVE_GRANT), grant_id)
    wait_until(lambda: alice_can_list_pods(kube_env), 10, "active")
    return grant_id


def test_apiserver_down_at_expiry_is_revoking_alerted_once_then_revoked(
    kube_env, aws_auth_reset, apiserver_proxy: TcpProxy, sqlite_url: str, tmp_path: Path, make_bot
) -> None:
    bot = make_bot(sqlite_url, kubeconfig=proxied_kubeconfig(kube_env, apiserver_proxy, tmp_path))
    stub = bot.stub
    bot.start()
    grant_id = active_grant(bot, kube_env)
    apiserver_proxy.cut()
    alerts = lambda: [t for t in stub.texts(channel="C0APPROVALS") if "cannot revoke" in t]  # noqa: E731
    wait_until(alerts, 40, "the approvers are alerted")
    assert grant_id in alerts()[0]
    listed = ask(bot, ALICE, "list")
    assert re.search(rf"`{grant_id}`.*revoking", listed), listed
    assert alice_can_list_pods(kube_env), "the cluster still grants: the bot must not say revoked"
    assert not [t for t in stub.texts(channel=ALICE) if "has expired" in t]

    apiserver_proxy.restore()
    wait_until(lambda: not alice_can_list_pods(kube_env), 40, "revoked once the apiserver is back")
    wait_until(lambda: aws_auth(kube_env) == aws_auth_reset, 10, "mapping removed")
    stub.wait_for(lambda: [t for t in stub.texts(channel=ALICE) if "has expired" in t])
    time.sleep(1)
    assert len(alerts()) == 1, "alerted once, not at every retry"


def test_slack_failing_never_delays_a_revoke(
    kube_env, aws_auth_reset, sqlite_url: str, make_bot
) -> None:
    bot = make_bot(sqlite_url)
    stub = bot.stub
    bot.start()
    active_grant(bot, kube_env, duration="10s")
    stub.fail("chat.postMessage", 6, status=429, error="ratelimited")
    stub.fail("chat.update", 6, status=503, error="service_unavailable")
    started = time.monotonic()
    wait_until(lambda: not alice_can_list_pods(kube_env), 20, "revoked on time")
    assert time.monotonic() - started < 15
    stub.wait_for(
        lambda: [t for t in stub.texts(channel=ALICE) if "has expired" in t],
        timeout=40,
        what="the expiry DM, delivered after Slack recovers",
    )


def test_database_down_gives_a_clear_message_and_writes_nothing(
    kube_env, aws_auth_reset, postgres_url: str, make_bot
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    try:
        bot = make_bot(postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        bot.start()
        assert "no pending requests" in ask(bot, ALICE, "list")
        proxy.cut()
        for command in ("grant pods-read 1h ns=default", "list"):
            answer = ask(bot, ALICE, command)
            assert "database is not answering" in answer and "Nothing was changed" in answer, answer
        assert bot.healthz() == 503
        proxy.restore()
        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM grants")).scalar() == 0
        engine.dispose()
        assert bot.stub.texts(channel="C0APPROVALS") == []
        wait_until(lambda: bot.healthz() == 200, 10, "healthy again")
        assert "no pending requests" in ask(bot, ALICE, "list")
    finally:
        proxy.close()


def test_a_message_owed_when_the_bot_is_killed_arrives_once_after_restart(
    kube_env, aws_auth_reset, sqlite_url: str, make_bot
) -> None:
    """The approval message is owed in the request's own transaction: a kill -9 before Slack
    took it loses nothing, and the next process sends it once."""
    bot = make_bot(sqlite_url)
    stub = bot.stub
    bot.start()
    stub.fail("chat.postMessage", 10_000, status=503, error="service_unavailable")
    ask(bot, ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(bot)
    stub.wait_for(lambda: stub.of("chat.postMessage"), what="a first try while Slack fails")
    bot.kill()  # SIGKILL, with the message still owed
    stub.failures["chat.postMessage"] = []  # Slack answers again
    tried = len(stub.calls)
    again = make_bot(sqlite_url, stub=stub, name="again")
    again.start()

    def approval_messages() -> list[str]:
        return [
            str(c.args.get("text"))
            for c in stub.calls[tried:]
            if c.method == "chat.postMessage" and c.args.get("channel") == "C0APPROVALS"
        ]

    stub.wait_for(approval_messages, timeout=30, what="the approval message after the restart")
    time.sleep(3)  # a few more outbox passes: nothing is sent twice
    assert len(approval_messages()) == 1, approval_messages()
    assert grant_id in str(stub.of("chat.postMessage")[-1].args.get("blocks"))
