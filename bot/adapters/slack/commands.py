"""The /eks-access slash command: ack at once, parse, call one service, answer ephemerally."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.adapters.slack import replies
from bot.adapters.slack.errors import user_message
from bot.domain.commands import (
    ExtendCommand,
    GrantCommand,
    HelpCommand,
    ListCommand,
    ProfilesCommand,
    RevokeCommand,
    parse_command,
)
from bot.domain.grants import Grant
from bot.services.deps import Deps
from bot.services.extend import RequestExtension
from bot.services.queries import awaiting_my_decision, my_grants, requestable_profiles
from bot.services.request_access import RequestAccess
from bot.services.revoke import RevokeGrant

NO_DIALOG = (
    ":x: Slack did not open the request dialog; try again, or type "
    "`/eks-access grant <profile> <duration>` (`/eks-access help` shows how)."
)


def answer(deps: Deps, *, user: str, text: str) -> str:
    """The whole command, as text for the user who typed it."""

    def run() -> str:
        command = parse_command(text)
        if isinstance(command, GrantCommand):
            return replies.request_accepted(
                RequestAccess(deps).execute(requester=user, command=command)
            )
        if isinstance(command, ExtendCommand):
            result = RequestExtension(deps).execute(
                grant_id=command.grant_id, actor=user, duration=command.duration
            )
            if isinstance(result, Grant):
                return replies.extended(result)
            return replies.extension_accepted(result)
        if isinstance(command, RevokeCommand):
            return replies.revoked(RevokeGrant(deps).execute(grant_id=command.grant_id, actor=user))
        if isinstance(command, ListCommand):
            return replies.grant_list(
                my_grants(deps, user), deps.clock.now(), awaiting_my_decision(deps, user)
            )
        if isinstance(command, ProfilesCommand):
            return replies.profile_list(requestable_profiles(deps, user))
        assert isinstance(command, HelpCommand)
        return replies.help_text(deps.policy)

    return user_message(run)


#: Opens the request dialog: (client, trigger_id, user) -> whether Slack opened it.
OpenDialog = Callable[[WebClient, str, str], bool]


def register(
    app: App,
    deps: Deps,
    work: Executor,
    *,
    command: str = "/eks-access",
    open_dialog: OpenDialog | None = None,
) -> None:
    @app.command(command)
    def on_command(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()  # first: Slack shows an error if the ack takes more than 3 s
        user, text = body["user_id"], body.get("text", "")
        if not text.strip() and open_dialog is not None:  # bare: the request dialog
            if not open_dialog(client, body["trigger_id"], user):
                respond(text=NO_DIALOG, response_type="ephemeral")
            return
        work.submit(
            lambda: respond(text=answer(deps, user=user, text=text), response_type="ephemeral")
        )
