"""The HTTP endpoint: POST /slack/events (Bolt) and GET /healthz, served by waitress."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.adapters.web.priority import AcksFirst

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, healthy: Callable[[], bool], acks: AcksFirst) -> WsgiApp:
    slack = SlackRequestHandler(app, path="/slack/events")

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") == "GET":
            ok = healthy()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [b"ok\n" if ok else b"database unreachable\n"]
        acks.enter()
        try:
            return slack(environ, start_response)  # Bolt answers in full before returning
        finally:
            acks.leave()

    return application
