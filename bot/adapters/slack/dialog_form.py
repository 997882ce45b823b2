"""What the request dialog's submission says: read into the command the text would give,
and a refusal shown on the field it concerns. Pure: the view's JSON in, values out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.adapters.slack.dialog_blocks import block_id
from bot.adapters.slack.ids import Field
from bot.domain.command_refusals import BadDuration, MissingDuration, ReasonTooLong
from bot.domain.commands import GrantCommand, clean_reason, typed_duration
from bot.domain.errors import Rejected
from bot.domain.markup import Markup
from bot.domain.refusals import (
    DurationOutOfBounds,
    NamespaceNeeded,
    NamespaceNotAllowed,
    NoSuchCluster,
    ProfileNotOnCluster,
)

#: Slack shows at most this much of a field's error.
MAX_ERROR = 150


class NoDuration(Rejected):
    def describe(self, m: Markup) -> str:
        return "Choose a duration, or type one such as 2h."


class ProfileChanging(Rejected):
    """Submitted before the dialog was drawn again for the profile just chosen."""

    def describe(self, m: Markup) -> str:
        return "The dialog is still showing another profile's choices; check them and submit again."


#: The field each refusal is about; any other is shown on the profile.
FIELD_OF: dict[type[Exception], Field] = {
    NoSuchCluster: Field.CLUSTER,
    ProfileNotOnCluster: Field.CLUSTER,
    NamespaceNeeded: Field.NAMESPACE,
    NamespaceNotAllowed: Field.NAMESPACE,
    DurationOutOfBounds: Field.DURATION_CHOICE,
    BadDuration: Field.DURATION_CHOICE,
    MissingDuration: Field.DURATION_CHOICE,
    ReasonTooLong: Field.REASON,
    NoDuration: Field.DURATION_CHOICE,
}


class Submission:
    """The submitted view: its state, and the profile its blocks were drawn for."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.values: dict[str, Any] = view.get("state", {}).get("values", {})
        self.drawn = str(view.get("private_metadata") or "")

    def _element(self, field: Field) -> dict[str, Any]:
        block = self.values.get(block_id(field, self.drawn), {})
        return next(iter(block.values()), {}) if isinstance(block, dict) else {}

    def selected(self, field: Field) -> str | None:
        chosen = self._element(field).get("selected_option") or {}
        value = chosen.get("value")
        return str(value) if value else None

    def typed(self, field: Field) -> str:
        return str(self._element(field).get("value") or "").strip()

    def grant_command(self) -> GrantCommand:
        """Refused as the text command refuses the same words (the policy checks follow in
        RequestAccess, for both)."""
        profile = self.selected(Field.PROFILE) or ""
        if profile != self.drawn:
            raise ProfileChanging()
        return GrantCommand(
            profile=profile,
            duration=self.duration(),
            namespace=self.selected(Field.NAMESPACE),
            cluster=self.selected(Field.CLUSTER),
            reason=clean_reason(self.typed(Field.REASON)),
        )

    def duration(self) -> timedelta:
        typed = self.typed(Field.DURATION_TYPED)
        if typed:
            return typed_duration(typed)  # a typed duration wins over the list
        chosen = self.selected(Field.DURATION_CHOICE)
        if chosen is None or not chosen.isdigit():
            raise NoDuration()
        return timedelta(seconds=int(chosen))

    def errors(self, error: Exception) -> dict[str, str]:
        """`response_action: errors` for a refusal: plain text, on the field it is about."""
        field = FIELD_OF.get(type(error), Field.PROFILE)
        if field is Field.DURATION_CHOICE and self.typed(Field.DURATION_TYPED):
            field = Field.DURATION_TYPED
        target = block_id(field, self.drawn)
        if target not in self.values and field is not Field.PROFILE:
            target = block_id(Field.PROFILE, self.drawn)  # a block this view does not have
        return {target: str(error)[:MAX_ERROR]}
