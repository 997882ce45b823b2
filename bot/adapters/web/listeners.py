"""What `serve` listens on: Slack's HTTP requests (with /healthz and /metrics) on one port,
or Socket Mode with /healthz and /metrics on a port of their own. Each returns when the
process is asked to stop (SystemExit from the signal handler)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from slack_bolt import App
from waitress import create_server

from bot.adapters.web.priority import Precedence
from bot.adapters.web.server import operations_app, wsgi_app

log = logging.getLogger(__name__)


def serve_socket_mode(
    app: App,
    app_token: str,
    healthy: Callable[[], bool],
    metrics: Callable[[], bytes],
    *,
    host: str,
    metrics_port: int,
) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler  # only in this mode

    operations = create_server(
        operations_app(healthy, metrics),
        host=host,
        port=metrics_port,
        threads=2,
        ident="eks-access",
    )
    threading.Thread(target=operations.run, name="operations-http", daemon=True).start()
    log.info("eks-access serving /healthz and /metrics on http://%s:%s", host, metrics_port)
    log.info("eks-access connecting to Slack by Socket Mode")
    socket_mode = SocketModeHandler(app, app_token)
    try:
        socket_mode.start()
    except SystemExit:
        pass
    finally:
        socket_mode.close()


def serve_http(
    app: App,
    healthy: Callable[[], bool],
    metrics: Callable[[], bytes],
    acks: Precedence,
    *,
    host: str,
    port: int,
) -> None:
    listener = create_server(
        wsgi_app(app, healthy, metrics, acks), host=host, port=port, threads=16, ident="eks-access"
    )
    log.info("eks-access listening on http://%s:%s/slack/events", host, port)
    listener.print_listen("Serving on http://{}:{}")  # as waitress.serve() says it
    listener.run()  # until the stop signal: then waitress waits for requests in flight (5 s)
    listener.close()
