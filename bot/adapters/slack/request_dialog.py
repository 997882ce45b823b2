"""The request dialog: bare `/eks-access`, the global shortcut and the App Home's button open
it; choosing a profile draws it again for that profile; submitting does what
`/eks-access grant …` does, with its refusals shown on the fields."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack import dialog_blocks, replies
from bot.adapters.slack.commands import apply_if_approved
from bot.adapters.slack.dialog_form import Submission
from bot.adapters.slack.ids import Action, Field, Shortcut, View
from bot.domain.errors import EksAccessError
from bot.services.deps import Deps
from bot.services.queries import requestable_profiles
from bot.services.request_access import RequestAccess

log = logging.getLogger(__name__)


class RequestDialog:
    def __init__(self, deps: Deps, work: Executor) -> None:
        self.deps = deps
        self.work = work

    def open(self, client: WebClient, trigger_id: str, user: str) -> bool:
        """Opens the dialog at once, before anything slow (the trigger lasts 3 s), then fills
        it in from the pool: what the user may request may need Slack's user groups."""
        try:
            opened = client.views_open(trigger_id=trigger_id, view=dialog_blocks.loading_view())
        except SlackApiError as e:
            log.warning("views.open failed: %s", e.response.get("error"))
            return False
        view = opened["view"]
        self.work.submit(self.draw, client, user, view["id"], view["hash"], None)
        return True

    def draw(
        self, client: WebClient, user: str, view_id: str, view_hash: str, chosen: str | None
    ) -> None:
        """The dialog for the profile `chosen` (or the first), re-authorised: a profile the
        user may not request is never drawn."""
        profiles = requestable_profiles(self.deps, user)
        if not profiles:
            view = dialog_blocks.nothing_to_request_view()
        else:
            profile = next((p for p in profiles if p.name == chosen), profiles[0])
            view = dialog_blocks.request_view(self.deps.policy, profiles, profile)
        try:
            client.views_update(view_id=view_id, hash=view_hash, view=view)
        except SlackApiError as e:  # hash_conflict: a later choice is drawn instead
            log.info("views.update not applied: %s", e.response.get("error"))


def register(
    app: App, deps: Deps, work: Executor, activations: Executor | None = None
) -> RequestDialog:
    """`activations`: where a request approved at once is applied (see `apply_if_approved`)."""
    dialog = RequestDialog(deps, work)

    @app.shortcut(str(Shortcut.REQUEST_ACCESS))
    @app.action(str(Action.OPEN_REQUEST_DIALOG))
    def open_dialog(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        dialog.open(client, body["trigger_id"], body["user"]["id"])

    @app.action(str(Action.CHOOSE_PROFILE))
    def profile_chosen(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        if not view.get("id"):
            return  # not from the dialog (a forged payload): nothing to draw
        chosen = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
        work.submit(dialog.draw, client, body["user"]["id"], view["id"], view["hash"], chosen)

    @app.view(str(View.REQUEST_ACCESS))
    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = body["user"]["id"]
        submission = Submission(view)
        try:
            command = submission.grant_command()
            grant = RequestAccess(deps).execute(requester=user, command=command)
        except EksAccessError as e:
            ack(response_action="errors", errors=submission.errors(e))
            return
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("unexpected error (ref %s)", ref)
            field = dialog_blocks.block_id(Field.PROFILE, submission.drawn)
            ack(
                response_action="errors",
                errors={field: f"Something went wrong inside eks-access (reference {ref})."},
            )
            return
        ack()

        def tell() -> None:
            # A modal has no response_url: the answer the command gives, as a DM.
            applied = apply_if_approved(deps, grant, activations)
            client.chat_postMessage(channel=user, text=replies.request_accepted(applied))

        work.submit(tell)

    return dialog
