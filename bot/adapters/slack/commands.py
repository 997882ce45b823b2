"""The /eks-access slash command: ack at once, parse, call one service, answer ephemerally."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.adapters.slack import break_glass, replies
from bot.adapters.slack.errors import user_message
from bot.domain.commands import (
    BreakGlassCommand,
    ExtendCommand,
    GrantCommand,
    HelpCommand,
    ListCommand,
    ProfilesCommand,
    RevokeCommand,
    parse_command,
)
from bot.domain.grants import Grant, GrantStatus
from bot.services.activate import ActivateGrant
from bot.services.break_glass import BreakGlass
from bot.services.deps import Deps
from bot.services.extend import RequestExtension
from bot.services.queries import awaiting_my_decision, my_grants, requestable_profiles
from bot.services.request_access import RequestAccess
from bot.services.revoke import RevokeGrant

NO_DIALOG = (
    ":x: Slack did not open the request dialog; try again, or type "
    "`/eks-access grant <profile> <duration>` (`/eks-access help` shows how)."
)


def apply_if_approved(deps: Deps, grant: Grant, activations: Executor | None) -> Grant:
    """A request approved at once (auto-approval) is applied in `activations` (the
    decisions' pool: it waits on the cluster), or here when none is given; the sweep takes it
    over after a crash."""
    if grant.status is not GrantStatus.ACTIVATING:
        return grant
    activate = ActivateGrant(deps).execute
    if activations is None:
        return activate(grant_id=grant.id, grant=grant)
    activations.submit(activate, grant_id=grant.id, grant=grant)
    return grant


def answer(deps: Deps, *, user: str, text: str, activations: Executor | None = None) -> str:
    """The whole command, as text for the user who typed it (`activations`: see
    `apply_if_approved`)."""

    def run() -> str:
        command = parse_command(text)
        if isinstance(command, GrantCommand):
            grant = RequestAccess(deps).execute(requester=user, command=command)
            return replies.request_accepted(apply_if_approved(deps, grant, activations))
        if isinstance(command, BreakGlassCommand):
            grant = BreakGlass(deps).execute(requester=user, command=command)
            return break_glass.accepted(grant, deps.policy)
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
    activations: Executor | None = None,
    open_dialog: OpenDialog | None = None,
) -> None:
    """`activations`: where requests approved at once are applied (else in `work`)."""

    @app.command(command)
    def on_command(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()  # first: Slack shows an error if the ack takes more than 3 s
        user, text = body["user_id"], body.get("text", "")
        if not text.strip() and open_dialog is not None:  # bare: the request dialog
            if not open_dialog(client, body["trigger_id"], user):
                respond(text=NO_DIALOG, response_type="ephemeral")
            return
        work.submit(
            lambda: respond(
                text=answer(deps, user=user, text=text, activations=activations),
                response_type="ephemeral",
            )
        )
