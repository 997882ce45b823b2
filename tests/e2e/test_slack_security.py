"""Replays, retries and refused clicks through the real endpoint: at most one effect, the
clicker told why, every attempt in the audit trail."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from sqlalchemy import create_engine, text

from bot.adapters.slack.ids import Action
from tests.e2e.conftest import ALICE, ALICE_USERNAME, CAROL, DAVE
from tests.e2e.test_grant_story import request_id
from tests.support.bot import BotProcess, post, sign

pytestmark = [pytest.mark.e2e, pytest.mark.kube]


def audit(url: str, grant_id: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT actor, action FROM audit_events WHERE grant_id = :g ORDER BY id"),
            {"g": grant_id},
        ).all()
    engine.dispose()
    return [(r[0], r[1]) for r in rows]


def test_replayed_and_retried_click_has_one_effect(
    bot: BotProcess, kube_env, database_url: str
) -> None:
    bot.slack.command(ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(bot)
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": CAROL},
        "api_app_id": "A0APP",
        "token": "legacy",
        "trigger_id": "t1",
        "response_url": bot.stub.response_url("replay"),
        "actions": [
            {
                "type": "button",
                "action_id": str(Action.APPROVE_GRANT),
                "block_id": "b",
                "value": grant_id,
                "action_ts": "1",
            }
        ],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)})
    ts = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(body, ts),
    }
    assert post(bot.slack.url, body, headers)[0] == 200
    assert post(bot.slack.url, body, headers)[0] == 200  # the same delivery, replayed
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert post(bot.slack.url, body, retry)[0] == 200
    answers = bot.stub.wait_for(lambda: len(bot.stub.responses()) >= 4 and bot.stub.responses())
    assert sum("Approved" in a for a in answers) == 1
    assert sum("already approved by <@U0CAROL>" in a for a in answers) == 2
    actions = [a for _, a in audit(database_url, grant_id)]
    assert actions.count("request.approved") == 1 and actions.count("grant.activated") == 1
    assert kube_env.settled_can(ALICE_USERNAME, [], "list", "pods", "default", expect=True)
    bot.slack.command(ALICE, f"revoke {grant_id}")
    bot.stub.wait_for(lambda: any("revoked" in r for r in bot.stub.responses()))


def test_refused_clicks_are_audited_and_change_nothing(
    bot: BotProcess, kube_env, database_url: str
) -> None:
    bot.slack.command(ALICE, "grant pods-read 1h ns=default")
    grant_id = request_id(bot)
    for user in (DAVE, ALICE):
        bot.slack.click(user, str(Action.APPROVE_GRANT), grant_id)
    bot.stub.wait_for(lambda: len(bot.stub.responses()) >= 3)
    trail = audit(database_url, grant_id)
    assert (DAVE, "click.refused") in trail and (ALICE, "click.refused") in trail
    assert "request.approved" not in [a for _, a in trail]
    assert not kube_env.can(ALICE_USERNAME, [], "list", "pods", "default")
