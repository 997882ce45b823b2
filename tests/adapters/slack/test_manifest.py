"""The Slack app manifest asks Slack for what the bot listens to."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.adapters.slack.ids import Shortcut

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-app-manifest.yaml"


def test_the_home_tab_its_event_and_the_shortcut_are_enabled() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened"]
    assert events["request_url"] == manifest["settings"]["interactivity"]["request_url"]
    (shortcut,) = manifest["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"]) == ("global", Shortcut.REQUEST_ACCESS)
