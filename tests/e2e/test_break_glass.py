"""Break-glass on real parts: the bot process reached by signed HTTP, the Slack Web API stub
recording both announcements, the real kube-apiserver proving the access by authorization at
once, the database holding the audit trail. Alice requests `incident-read` only through the
S0RESPONDERS user group."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, ALICE_USERNAME, CAROL, DAVE, ERIN, alice_can_list_pods
from tests.e2e.test_grant_story import click, last_response
from tests.support.bot import BotProcess
from tests.support.slack_stub import Call, SlackStub
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.kube]

APPROVALS, ALERTS = "C0APPROVALS", "C0ALERTS"
REASON = "INC-42 payments are down"


def with_break_glass(policy: dict[str, Any]) -> None:
    policy["slack"]["alert_channel"] = ALERTS
    policy["profiles"]["incident-read"] = {
        "description": "View the default namespace during an incident",
        "namespaces": ["default"],
        # A ClusterRole the bot may bind (the test apiserver lets it own Roles of other
        # profiles only).
        "cluster_role": "view",
        "requesters": ["S0RESPONDERS"],
        "approvers": [CAROL, "S0ONCALL"],
        "break_glass": True,
        "break_glass_max_duration": "10m",
    }


@pytest.fixture
def start_bot(aws_auth_reset, make_bot) -> Callable[..., BotProcess]:
    def start(database_url: str, **env: str) -> BotProcess:
        stub = SlackStub()
        stub.group_members |= {"S0ONCALL": [ERIN], "S0RESPONDERS": [ALICE]}
        bot = make_bot(database_url, stub=stub, edit_policy=with_break_glass)
        bot.start(extra_env=env or None)
        return bot

    return start


def command(bot: BotProcess, user: str, line: str) -> str:
    before = len(bot.stub.responses())
    status, _ = bot.slack.command(user, line)
    assert status == 200
    return last_response(bot, before)


def announcements(stub: SlackStub, channel: str, method: str = "chat.postMessage") -> list[Call]:
    """The messages of `channel` itself, not the replies in their threads (the timeline)."""
    return [
        c
        for c in stub.of(method)
        if c.args.get("channel") == channel and not c.args.get("thread_ts")
    ]


def buttons(call: Call) -> list[dict[str, Any]]:
    return [e for b in call.args["blocks"] if b["type"] == "actions" for e in b["elements"]]


def audit(database_url: str, grant_id: str) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, actor, detail FROM audit_events WHERE grant_id = :g ORDER BY id"),
            {"g": grant_id},
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def message_of(database_url: str, grant_id: str) -> dict[str, str]:
    """Where the bot recorded its two announcements: channel -> ts."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT approval_channel, approval_ts, alert_channel, alert_ts FROM grants "
                "WHERE id = :g"
            ),
            {"g": grant_id},
        ).one()
    engine.dispose()
    return {row[0]: row[1], row[2]: row[3]}


def grant_count(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        count = int(conn.execute(text("SELECT count(*) FROM grants")).scalar_one())
    engine.dispose()
    return count


def test_break_glass_is_applied_at_once_announced_and_acknowledged_once(
    start_bot, database_url: str, kube_env
) -> None:
    bot = start_bot(database_url)
    stub = bot.stub
    assert not kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")

    answer = command(bot, ALICE, f"break-glass incident-read 5m ns=default {REASON}")
    match = re.search(
        r"Break-glass `([a-z2-9]{8})`: \*incident-read\* on `dev`/`default` is active", answer
    )
    assert match, answer
    grant_id = match.group(1)
    assert "announced in <#C0APPROVALS> and <#C0ALERTS>" in answer
    # No approval was asked for: the answer already found the access applied.
    assert kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")
    assert not kube_env.can(ALICE_USERNAME, [], "delete", "pods", "default")
    wait_until(lambda: alice_can_list_pods(kube_env), 10, "Alice lists pods as herself")

    for channel in (APPROVALS, ALERTS):
        (posted,) = stub.wait_for(lambda c=channel: announcements(stub, c), what=channel)
        assert "<!here>" in posted.args["text"] and "<!here>" in str(posted.args["blocks"])
        assert REASON in str(posted.args["blocks"]) and f"<@{ALICE}>" in posted.args["text"]
        assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons(posted)] == [
            ("Acknowledge", Action.ACKNOWLEDGE_BREAK_GLASS, grant_id)  # only the id travels
        ]
    dm = stub.wait_for(lambda: [t for t in stub.texts(channel=ALICE) if "is active until" in t])[0]
    assert "break-glass" in dm and "kubectl" in dm and ALICE_USERNAME in dm
    assert "announced in <#C0APPROVALS> and <#C0ALERTS> with @here" in dm

    refused = click(bot, DAVE, Action.ACKNOWLEDGE_BREAK_GLASS, grant_id)
    assert (
        "You are not an approver of `incident-read`; its approvers are <@U0CAROL>, "
        "<!subteam^S0ONCALL>." in refused
    )
    assert "Acknowledged by" not in str(stub.of("chat.update"))

    acknowledged = click(bot, CAROL, Action.ACKNOWLEDGE_BREAK_GLASS, grant_id)
    assert f"You acknowledged break-glass `{grant_id}`" in acknowledged
    where = message_of(database_url, grant_id)
    assert len(set(where.values())) == 2  # two messages, one in each channel
    for channel in (APPROVALS, ALERTS):
        updated = stub.wait_for(
            lambda c=channel: [
                u
                for u in announcements(stub, c, "chat.update")
                if "Acknowledged by <@U0CAROL>" in str(u.args["blocks"])
            ],
            what=f"the acknowledgement shown in {channel}",
        )[-1]
        assert updated.args["ts"] == where[channel]  # the announcement itself, updated
        assert buttons(updated) == [] and "<!here>" in updated.args["text"]

    for again in (CAROL, ERIN):  # twice, and a second approver (through S0ONCALL)
        assert f"Break-glass `{grant_id}` was already acknowledged by <@U0CAROL>." in click(
            bot, again, Action.ACKNOWLEDGE_BREAK_GLASS, grant_id
        )
    trail = audit(database_url, grant_id)
    assert [a for a, _, _ in trail] == [
        "request.created",
        "grant.break_glass",
        "grant.activated",
        "click.refused",
        "grant.acknowledged",
    ]
    assert trail[1] == ("grant.break_glass", ALICE, REASON)
    assert trail[3][1] == DAVE and trail[4][1] == CAROL
    time.sleep(1.5)  # the outbox's passes after the clicks: nothing posted twice
    assert len(announcements(stub, APPROVALS)) == 1 and len(announcements(stub, ALERTS)) == 1

    assert "revoked" in command(bot, ALICE, f"revoke {grant_id}")
    assert not kube_env.settled_can(ALICE_USERNAME, [], "list", "pods", "default", expect=False)
    stub.wait_for(
        lambda: [
            u for u in announcements(stub, ALERTS, "chat.update") if "revoked by" in str(u.args)
        ],
        what="the alert message showing the end",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_refusals_are_sentences_and_nothing_is_stored(
    start_bot, database_url: str, kube_env
) -> None:
    bot = start_bot(database_url)
    usage = (
        "`/eks-access break-glass <profile> <duration> [ns=<namespace>] [cluster=<name>] <reason>`"
    )
    cases = [
        (
            ALICE,
            "break-glass incident-read 5m INC-42",
            "Break-glass needs a reason of at least 10 characters (yours has 6): say what is "
            f"on fire, e.g. an incident id. Usage: {usage}.",
        ),
        (
            ALICE,
            f"break-glass incident-read 2h {REASON}",
            "`2h` is longer than break-glass allows on `incident-read`: at most 10m. Ask for "
            "longer with `/eks-access grant`, which needs approval.",
        ),
        (
            ALICE,
            f"break-glass pods-read 5m {REASON}",
            "Profile `pods-read` does not allow break-glass; ask for it with `/eks-access "
            "grant`. Profiles you may break glass on: `incident-read`.",
        ),
        (
            DAVE,  # not in S0RESPONDERS
            f"break-glass incident-read 5m {REASON}",
            "You may not request `incident-read`, so you cannot break glass on it. Profiles "
            "you may break glass on: none.",
        ),
    ]
    for user, line, sentence in cases:
        assert command(bot, user, line) == f":warning: {sentence}", line
    time.sleep(1)
    assert grant_count(database_url) == 0
    assert stub_posts(bot.stub) == []
    assert not kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")


def stub_posts(stub: SlackStub) -> list[Call]:
    return announcements(stub, APPROVALS) + announcements(stub, ALERTS)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_crash_before_the_cluster_is_reached_is_finished_after_restart(
    start_bot, database_url: str, kube_env
) -> None:
    bot = start_bot(database_url, EKS_ACCESS_CRASH_AT="before:ensure_mapping")
    bot.slack.command(ALICE, f"break-glass incident-read 5m {REASON}")
    assert bot.wait_exit(15) == -signal.SIGKILL, "the crash point was not reached"
    assert grant_count(database_url) == 1  # stored, announced-to-be, before the cluster step
    bot.start()
    wait_until(lambda: alice_can_list_pods(kube_env), 20, "the sweep finishes the activation")
    for channel in (APPROVALS, ALERTS):
        bot.stub.wait_for(lambda c=channel: announcements(bot.stub, c), what=channel)
    time.sleep(1.5)
    assert len(announcements(bot.stub, APPROVALS)) == 1
    assert len(announcements(bot.stub, ALERTS)) == 1
