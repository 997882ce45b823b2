"""The Bolt app: built from settings, listeners registered explicitly (no global app)."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.adapters.slack import actions, commands
from bot.config import Settings
from bot.services.deps import Deps


def web_client(settings: Settings) -> WebClient:
    base = (
        settings.slack_api_url
        if settings.slack_api_url.endswith("/")
        else settings.slack_api_url + "/"
    )
    return WebClient(
        token=settings.slack_bot_token,
        base_url=base,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(settings: Settings, client: WebClient, deps: Deps) -> App:
    """Bolt calls auth.test here, through `client`, i.e. at SLACK_API_URL."""
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret,
        process_before_response=False,
    )
    commands.register(app, deps)
    actions.register(app, deps)
    return app
