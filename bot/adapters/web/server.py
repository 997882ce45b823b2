"""The HTTP endpoints, served by waitress: POST /slack/events (Bolt, in HTTP mode), and
GET /healthz and GET /metrics (in both modes; in Socket Mode on their own port)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.adapters.metrics import CONTENT_TYPE
from bot.adapters.web.priority import Precedence

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def operations_app(healthy: Callable[[], bool], metrics: Callable[[], bytes]) -> WsgiApp:
    """/healthz (200 while the database answers) and /metrics; 404 for anything else."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/healthz" and method == "GET":
            ok = healthy()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [b"ok\n" if ok else b"database unreachable\n"]
        if path == "/metrics" and method == "GET":
            body = metrics()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
            return [body]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return application


def wsgi_app(
    app: App, healthy: Callable[[], bool], metrics: Callable[[], bytes], acks: Precedence
) -> WsgiApp:
    slack = SlackRequestHandler(app, path="/slack/events")
    operations = operations_app(healthy, metrics)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in ("/healthz", "/metrics"):
            return operations(environ, start_response)
        acks.enter()
        try:
            return slack(environ, start_response)  # Bolt answers in full before returning
        finally:
            acks.leave()

    return application
