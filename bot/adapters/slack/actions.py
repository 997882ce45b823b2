"""Buttons and modals: ack, parse the opaque id, call one service, answer the clicker."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.adapters.slack import blocks
from bot.adapters.slack.clicker import Answer, from_home
from bot.adapters.slack.errors import user_message
from bot.adapters.slack.ids import Action, Field, View
from bot.adapters.slack.markup import SLACK
from bot.domain.durations import InvalidDuration, parse_duration
from bot.domain.errors import EksAccessError, Rejected
from bot.domain.grants import Grant, GrantStatus
from bot.domain.ids import looks_like_id
from bot.services.decide import DecideRequest
from bot.services.decide_extension import DecideExtension
from bot.services.deps import Deps
from bot.services.extend import RequestExtension

log = logging.getLogger(__name__)


def clicked_id(body: dict[str, Any]) -> str:
    value = str((body.get("actions") or [{}])[0].get("value", ""))
    if not looks_like_id(value):
        raise Rejected("This button does not name a valid request.")
    return value


def approved_text(grant: Grant, needed: int = 1) -> str:
    """The clicker's answer: `needed`, the profile's quorum."""
    if grant.status is GrantStatus.PENDING:
        more = needed - len(grant.approvals)
        return (
            f":ballot_box_with_check: Your approval is counted: {len(grant.approvals)} of "
            f"{needed} for `{grant.id}`; it waits for {more} more from other approvers."
        )
    if grant.status is GrantStatus.ACTIVE:
        return f":white_check_mark: Approved `{grant.id}`: active until {blocks.when(grant.expires_at)}."
    if grant.status is GrantStatus.ACTIVATING:
        return (
            f":gear: Approved `{grant.id}`; the cluster is not answering yet, the bot keeps trying."
        )
    return f"Approved `{grant.id}`, but it could not be applied: {grant.end_detail or grant.status.label}."


def register(app: App, deps: Deps, work: Executor, answer: Answer) -> None:
    """`answer` tells the clicker: ephemerally in a message, by DM from the App Home."""

    @app.action(str(Action.APPROVE_GRANT))
    def approve_grant(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()  # at once: the activation may wait for the cluster
        user = body["user"]["id"]

        def run() -> str:
            grant = DecideRequest(deps).execute(grant_id=clicked_id(body), actor=user, approve=True)
            profile = deps.policy.profiles.get(grant.profile)
            return approved_text(grant, profile.approvals if profile else 1)

        work.submit(lambda: answer(body, respond, user_message(run)))

    @app.action(str(Action.APPROVE_EXTENSION))
    def approve_extension(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = body["user"]["id"]

        def run() -> str:
            DecideExtension(deps).execute(extension_id=clicked_id(body), actor=user, approve=True)
            return ":white_check_mark: Extension approved."

        work.submit(lambda: answer(body, respond, user_message(run)))

    def open_modal(
        client: WebClient, body: dict[str, Any], respond: Respond, view: dict[str, Any]
    ) -> None:
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except Exception:
            log.exception("views.open failed")
            answer(body, respond, ":x: Could not open the dialog; please click again.")

    @app.action(str(Action.DENY_GRANT))
    @app.action(str(Action.DENY_EXTENSION))
    def deny(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        try:
            object_id = clicked_id(body)
        except Rejected as e:
            return answer(body, respond, f":warning: {e.describe(SLACK)}")
        kind = "ext" if body["actions"][0]["action_id"] == Action.DENY_EXTENSION else "grant"
        open_modal(
            client,
            body,
            respond,
            blocks.reason_modal(View.DENY_REASON, f"{kind}:{object_id}{_origin(body)}", "Deny"),
        )

    @app.action(str(Action.EXTEND_GRANT))
    def extend(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        try:
            grant_id = clicked_id(body)
        except Rejected as e:
            return answer(body, respond, f":warning: {e.describe(SLACK)}")
        open_modal(
            client,
            body,
            respond,
            blocks.reason_modal(
                View.EXTEND, f"{grant_id}{_origin(body)}", "Extend access", with_duration=True
            ),
        )

    @app.view(str(View.DENY_REASON))
    def deny_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        metadata, home = _opened_from(view)
        kind, _, object_id = metadata.partition(":")
        note = _input(view, Field.REASON_BLOCK, Field.REASON_INPUT)[:500]
        try:
            if kind == "ext":
                DecideExtension(deps).execute(
                    extension_id=object_id, actor=user, approve=False, note=note
                )
            else:
                DecideRequest(deps).execute(
                    grant_id=object_id, actor=user, approve=False, note=note
                )
        except EksAccessError as e:
            # A field's error is plain text in Slack: no mentions or code there.
            ack(response_action="errors", errors={str(Field.REASON_BLOCK): str(e)[:150]})
            return
        ack()
        if home:
            work.submit(answer.home.publish, user)

    @app.view(str(View.EXTEND))
    def extend_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        text = _input(view, Field.DURATION_BLOCK, Field.DURATION_INPUT)
        grant_id, home = _opened_from(view)
        try:
            RequestExtension(deps).execute(
                grant_id=grant_id, actor=user, duration=parse_duration(text)
            )
        except (EksAccessError, InvalidDuration) as e:
            ack(response_action="errors", errors={str(Field.DURATION_BLOCK): str(e)[:150]})
            return
        ack()
        if home:
            work.submit(answer.home.publish, user)


#: Ends the private_metadata of a dialog opened from the App Home (published again after).
_FROM_HOME = ";home"


def _origin(body: dict[str, Any]) -> str:
    return _FROM_HOME if from_home(body) else ""


def _opened_from(view: dict[str, Any]) -> tuple[str, bool]:
    """The dialog's object, and whether it was opened from the App Home."""
    metadata = str(view.get("private_metadata", ""))
    if metadata.endswith(_FROM_HOME):
        return metadata.removesuffix(_FROM_HOME), True
    return metadata, False


def _input(view: dict[str, Any], block: Field, action: Field) -> str:
    values = view.get("state", {}).get("values", {})
    return str(values.get(str(block), {}).get(str(action), {}).get("value") or "").strip()
