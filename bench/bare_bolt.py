"""The baseline for the ack measurement: a bare Bolt app served like the bot.

One `/eks-access` command whose listener only calls `ack()`, behind Bolt's WSGI adapter on
waitress with 16 threads (as `bot.main.serve`), plus `GET /healthz` so the runner can tell
when it is up. The WebClient points at SLACK_API_URL (the stub), where Bolt's auth.test goes.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=... PORT=... \
        python -m bench.bare_bolt
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve


def build() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.command("/eks-access")
    def on_command(ack: Ack) -> None:
        ack()

    slack = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        return slack(environ, start_response)

    return application


def main() -> None:
    serve(
        build(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        threads=16,
        ident="bare-bolt",
    )


if __name__ == "__main__":
    main()
