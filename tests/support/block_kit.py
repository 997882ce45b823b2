"""Slack's own rules for views, as its Block Kit reference states them, checked on what the
bot builds (an independent model: Slack refuses a view that breaks any of them with
`invalid_arguments`, and the user sees nothing)."""

from __future__ import annotations

from typing import Any

#: Limits from api.slack.com/reference/block-kit (surfaces, blocks, elements, objects).
MAX_BLOCKS = 100
MAX_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_SECTION_TEXT = 3000
MAX_BLOCK_ID = 255
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_LABEL = 2000


def problems(view: dict[str, Any]) -> list[str]:
    found: list[str] = []
    blocks = view.get("blocks", [])
    if view.get("type") not in ("modal", "home"):
        found.append(f"surface type {view.get('type')}")
    if len(blocks) > MAX_BLOCKS:
        found.append(f"{len(blocks)} blocks")
    if view.get("type") == "modal":
        if len(view["title"]["text"]) > MAX_TITLE:
            found.append("title too long")
        if any(b["type"] == "input" for b in blocks) and "submit" not in view:
            found.append("input blocks without a submit button")
    if len(view.get("private_metadata", "")) > MAX_PRIVATE_METADATA:
        found.append("private_metadata too long")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        found.append(f"duplicate block ids {ids}")
    for b in blocks:
        found += _block(b)
    return found


def _block(b: dict[str, Any]) -> list[str]:
    found = []
    if len(b.get("block_id", "")) > MAX_BLOCK_ID:
        found.append("block_id too long")
    if b["type"] == "section" and len(b["text"]["text"]) > MAX_SECTION_TEXT:
        found.append("section text too long")
    if b["type"] == "input":
        if len(b["label"]["text"]) > MAX_LABEL:
            found.append("label too long")
        found += _element(b["element"])
    if b["type"] == "actions":
        if not 1 <= len(b["elements"]) <= 25:
            found.append("actions block with no or too many elements")
        action_ids = [e["action_id"] for e in b["elements"]]
        if len(action_ids) != len(set(action_ids)):
            found.append("duplicate action ids in one block")
        for e in b["elements"]:
            found += _element(e)
    return found


def _element(e: dict[str, Any]) -> list[str]:
    found = []
    if e["type"] == "button":
        if len(e["text"]["text"]) > MAX_BUTTON_TEXT or len(e.get("value", "")) > MAX_BUTTON_VALUE:
            found.append(f"button {e['text']['text']} too long")
        if e.get("style") not in (None, "primary", "danger"):
            found.append("button style")
    if e["type"] == "static_select":
        options = e["options"]
        if not 1 <= len(options) <= MAX_OPTIONS:
            found.append(f"{len(options)} options")
        for o in options:
            if len(o["text"]["text"]) > MAX_OPTION_TEXT or len(o["value"]) > MAX_OPTION_VALUE:
                found.append("option too long")
        initial = e.get("initial_option")
        if initial is not None and initial not in options:
            found.append(f"initial option {initial} is not one of the options")
    return found
