"""The /eks-access slash command: ack at once, parse, call one service, answer ephemerally."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App, Respond

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


def answer(deps: Deps, *, user: str, text: str, activations: Executor | None = None) -> str:
    """The whole command, as text for the user who typed it. A request approved at once
    (auto-approval) is activated in `activations` (the decisions' pool: it waits on the
    cluster), or here when none is given; the sweep takes it over after a crash."""

    def run() -> str:
        command = parse_command(text)
        if isinstance(command, GrantCommand):
            grant = RequestAccess(deps).execute(requester=user, command=command)
            if grant.status is GrantStatus.ACTIVATING:
                activate = ActivateGrant(deps).execute
                if activations is None:
                    grant = activate(grant_id=grant.id, grant=grant)
                else:
                    activations.submit(activate, grant_id=grant.id, grant=grant)
            return replies.request_accepted(grant)
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


def register(
    app: App,
    deps: Deps,
    work: Executor,
    *,
    command: str = "/eks-access",
    activations: Executor | None = None,
) -> None:
    """`activations`: where requests approved at once are applied (else in `work`)."""

    @app.command(command)
    def on_command(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()  # first: Slack shows an error if the ack takes more than 3 s
        user, text = body["user_id"], body.get("text", "")
        work.submit(
            lambda: respond(
                text=answer(deps, user=user, text=text, activations=activations),
                response_type="ephemeral",
            )
        )
