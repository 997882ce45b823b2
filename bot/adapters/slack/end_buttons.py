"""Revoke (the "access is active" DM, the App Home) and Withdraw (the App Home): ack, call
one service, tell the clicker. Both are re-authorised by the service and idempotent: a
second click, or a stale view, hears "already ended" or "already withdrawn"."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.adapters.slack import replies
from bot.adapters.slack.actions import clicked_id
from bot.adapters.slack.clicker import Answer
from bot.adapters.slack.errors import user_message
from bot.adapters.slack.ids import Action
from bot.services.deps import Deps
from bot.services.revoke import RevokeGrant
from bot.services.withdraw import WithdrawRequest


def register(app: App, deps: Deps, work: Executor, answer: Answer) -> None:
    @app.action(str(Action.REVOKE_GRANT))
    def revoke(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()  # at once: the revocation waits for the cluster
        user = body["user"]["id"]

        def run() -> str:
            return replies.revoked(RevokeGrant(deps).execute(grant_id=clicked_id(body), actor=user))

        work.submit(lambda: answer(body, respond, user_message(run)))

    @app.action(str(Action.WITHDRAW_REQUEST))
    def withdraw(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]

        def run() -> str:
            grant = WithdrawRequest(deps).execute(grant_id=clicked_id(body), actor=user)
            return replies.revoked(grant)

        work.submit(lambda: answer(body, respond, user_message(run)))
