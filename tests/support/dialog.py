"""Reading the request dialog and the App Home as Slack holds them, and filling the dialog
in as a person would (the state Slack sends with a submission)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.adapters.slack.dialog_blocks import block_id
from bot.adapters.slack.ids import Field


def block(view: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The block whose id is `prefix` or starts with `prefix:`."""
    for b in view["blocks"]:
        if b.get("block_id") == prefix or str(b.get("block_id", "")).startswith(prefix + ":"):
            return b
    raise AssertionError(f"no block {prefix} in {[b.get('block_id') for b in view['blocks']]}")


def options(view: dict[str, Any], field: Field) -> list[str]:
    return [o["text"]["text"] for o in block(view, str(field))["element"]["options"]]


def initial(view: dict[str, Any], field: Field) -> str | None:
    chosen = block(view, str(field))["element"].get("initial_option")
    return None if chosen is None else str(chosen["text"]["text"])


def buttons(view: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, action_id, value) of every button, in order."""
    return [
        (e["text"]["text"], e["action_id"], e.get("value", ""))
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    ]


def texts(view: dict[str, Any]) -> str:
    out = []
    for b in view["blocks"]:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            if "text" in e and isinstance(e["text"], str):
                out.append(e["text"])
    return "\n".join(out)


def filled_in(
    drawn: str,
    *,
    profile: str | None = None,
    cluster: str | None = None,
    namespace: str | None = None,
    duration: timedelta | None = None,
    typed: str = "",
    reason: str = "",
) -> dict[str, Any]:
    """state.values of the dialog drawn for `drawn`, as Slack sends every input block of it
    (unchosen selects as null)."""

    def select(value: str | None) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value} if value else None}

    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value or None}

    seconds = str(int(duration.total_seconds())) if duration else None
    fields = {
        Field.PROFILE: ("eks_access.choose_profile", select(profile or drawn)),
        Field.CLUSTER: (str(Field.CLUSTER), select(cluster)),
        Field.NAMESPACE: (str(Field.NAMESPACE), select(namespace)),
        Field.DURATION_CHOICE: (str(Field.DURATION_CHOICE), select(seconds)),
        Field.DURATION_TYPED: (str(Field.DURATION_TYPED), text(typed)),
        Field.REASON: (str(Field.REASON), text(reason)),
    }
    return {block_id(f, drawn): {action: value} for f, (action, value) in fields.items()}
