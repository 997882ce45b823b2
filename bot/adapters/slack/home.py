"""The App Home tab: published when the user opens it, when one of their grants changes
(a HOME_REFRESH notice from the outbox), and after they click one of its buttons."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.adapters.slack.home_blocks import home_view
from bot.services.deps import Deps
from bot.services.queries import awaiting_my_decision, my_grants

#: How many ended requests and grants the Home lists.
RECENT = 10


class HomeTab:
    def __init__(self, deps: Deps, client: WebClient) -> None:
        self.deps = deps
        self.client = client

    def publish(self, user: str) -> None:
        """views.publish of the Home as it is now (read once: one `now` for every line)."""
        deps = self.deps
        view = home_view(
            mine=my_grants(deps, user),
            to_decide=awaiting_my_decision(deps, user),
            recent=deps.store.recent_grants_of(user, limit=RECENT),
            now=deps.clock.now(),
        )
        self.client.views_publish(user_id=user, view=view)


def register(app: App, home: HomeTab, work: Executor) -> None:
    @app.event("app_home_opened")
    def opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":  # not the Messages tab
            work.submit(home.publish, event["user"])
