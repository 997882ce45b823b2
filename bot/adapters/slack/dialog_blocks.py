"""The request dialog (a modal), as pure Block Kit: values in, dicts out.

The profile select dispatches an action when a profile is chosen, and the dialog is drawn
again for it (bot.adapters.slack.request_dialog). The blocks whose choices depend on the
profile (cluster, namespace, duration) carry the profile in their block id: Slack keeps what
was entered in a block across an update only while its id stays the same, so a namespace
chosen for one profile never lingers, unseen, under another's. The profile drawn is the
view's private_metadata.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.adapters.slack.ids import Action, Field, View
from bot.domain.durations import format_duration
from bot.domain.policy import ClusterConfig, Policy, Profile

#: Slack's most options in a static select.
MAX_OPTIONS = 100
#: The duration preselected when the profile offers it.
PREFERRED_DURATION = timedelta(hours=1)
TITLE = "Request access"


def block_id(field: Field, profile: str) -> str:
    """The block of `field` when the dialog shows `profile` (its own block per profile)."""
    if field in (Field.PROFILE, Field.REASON):
        return str(field)
    return f"{field}:{profile}"


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value[:150]}


def _select(
    field: Field,
    profile: str,
    label: str,
    options: list[dict[str, Any]],
    initial: dict[str, Any] | None,
    *,
    optional: bool = False,
    dispatch: bool = False,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": str(Action.CHOOSE_PROFILE) if dispatch else str(field),
        "options": options[:MAX_OPTIONS],
    }
    if initial is not None:
        element["initial_option"] = initial
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id(field, profile),
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if optional:
        block["optional"] = True
    if dispatch:
        block["dispatch_action"] = True
    return block


def _modal(blocks: list[dict[str, Any]], profile: str = "", submit: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": str(View.REQUEST_ACCESS),
        "private_metadata": profile,
        "title": {"type": "plain_text", "text": TITLE},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
    if submit:
        view["submit"] = {"type": "plain_text", "text": "Request"}
    return view


def _text(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def loading_view() -> dict[str, Any]:
    """Opened at once (the trigger lasts 3 s); filled in when the profiles are known."""
    return _modal([_text(":hourglass: Looking up what you may request…")], submit=False)


def nothing_to_request_view() -> dict[str, Any]:
    return _modal(
        [
            _text(
                "There is no profile you may request. Ask the platform team to add you to a "
                "profile's `requesters`."
            )
        ],
        submit=False,
    )


def clusters_for(policy: Policy, profile: Profile) -> list[ClusterConfig]:
    return [c for c in policy.clusters if profile.allows_cluster(c.name)]


def request_view(policy: Policy, profiles: list[Profile], chosen: Profile) -> dict[str, Any]:
    """The dialog for `chosen`, one of `profiles` (those the user may request)."""
    name = chosen.name
    profile_options = [option(p.name, p.name) for p in profiles]
    blocks = [
        _select(
            Field.PROFILE,
            name,
            "Profile",
            profile_options,
            option(name, name),
            dispatch=True,
        ),
    ]
    if chosen.description:
        blocks.append(
            {"type": "context", "elements": [{"type": "plain_text", "text": chosen.description}]}
        )
    clusters = clusters_for(policy, chosen)
    if clusters:
        default = next((c for c in clusters if c.default), clusters[0])
        blocks.append(
            _select(
                Field.CLUSTER,
                name,
                "Cluster",
                [option(c.name, c.name) for c in clusters],
                option(default.name, default.name),
            )
        )
    namespaces = [option(n, n) for n in chosen.namespaces]
    blocks.append(
        _select(
            Field.NAMESPACE,
            name,
            "Namespace",
            namespaces,
            namespaces[0] if len(namespaces) == 1 else None,
        )
    )
    choices = chosen.duration_choices
    preset = PREFERRED_DURATION if PREFERRED_DURATION in choices else choices[0]
    blocks.append(
        _select(
            Field.DURATION_CHOICE,
            name,
            "Duration",
            [duration_option(d) for d in choices],
            duration_option(preset),
            optional=True,
        )
    )
    bounds = f"{format_duration(chosen.min_duration)}–{format_duration(chosen.max_duration)}"
    blocks.append(
        {
            "type": "input",
            "block_id": block_id(Field.DURATION_TYPED, name),
            "optional": True,
            "label": {"type": "plain_text", "text": "Or type a duration"},
            "hint": {"type": "plain_text", "text": f"Wins over the list: 45m, 1h30m … ({bounds})"},
            "element": {"type": "plain_text_input", "action_id": str(Field.DURATION_TYPED)},
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": block_id(Field.REASON, name),
            "optional": True,
            "label": {"type": "plain_text", "text": "Reason (the approvers read it)"},
            "element": {
                "type": "plain_text_input",
                "action_id": str(Field.REASON),
                "multiline": True,
                "max_length": 500,
            },
        }
    )
    return _modal(blocks, name)


def duration_option(duration: timedelta) -> dict[str, Any]:
    """The value is whole seconds: the submission reads it back without parsing text."""
    return option(format_duration(duration), str(int(duration.total_seconds())))
