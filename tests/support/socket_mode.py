"""Slack's side of Socket Mode, on loopback: the WebSocket the bot connects to instead of
serving HTTP, fed envelopes by the tests.

What Slack does, as its Socket Mode guide and python-slack-sdk's own test server show it:
`apps.connections.open` (called with the app-level `xapp-` token) hands out a URL with a
single-use ticket; on connect Slack sends `hello`; every slash command and interaction then
arrives as an envelope `{"envelope_id", "type", "payload", "accepts_response_payload"}`, and
the app acknowledges it by sending back `{"envelope_id"}`, with a `payload` where the HTTP
answer would have had a body (a modal's `response_action`). An envelope not acknowledged within
3 s is an error for the user (and a retry, for events). Slack also asks a client to move to a
fresh connection with a `disconnect` message (`refresh_requested`, `warning`, ...).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

#: Slack's window for an acknowledgement; later, the user sees an error.
ACK_WINDOW = 3.0
APP_ID = "A0APP"


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent_at: float = field(default_factory=time.monotonic)
    #: Each acknowledgement the bot sent for it (its payload, or {}), and when.
    acks: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    @property
    def ack_delay(self) -> float | None:
        return self.acks[0][0] - self.sent_at if self.acks else None


class SocketModeServer:
    def __init__(self) -> None:
        self.envelopes: dict[str, Envelope] = {}
        #: Every connection the bot opened, in order (closed ones too).
        self.connections: list[ServerConnection] = []
        #: Messages from the bot that were not acknowledgements of an envelope we sent.
        self.unexpected: list[str] = []
        #: How many URLs apps.connections.open handed out.
        self.tickets_issued = 0
        self._unused_tickets: set[str] = set()
        self._open: list[ServerConnection] = []
        self._changed = threading.Condition()
        # No pings from this side: the client pings, and a 20 s cadence would only add noise.
        self._server = serve(
            self._session,
            "127.0.0.1",
            0,
            process_request=self._check_ticket,
            compression=None,
            ping_interval=None,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-server", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    # -- apps.connections.open ----------------------------------------------------------------

    def issue_url(self) -> str:
        """A fresh URL with a ticket that opens one connection, as apps.connections.open gives."""
        with self._changed:
            self.tickets_issued += 1
            ticket = f"ticket-{self.tickets_issued}"
            self._unused_tickets.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urllib.parse.urlsplit(request.path)
        ticket = urllib.parse.parse_qs(url.query).get("ticket", [""])[0]
        with self._changed:
            if url.path.rstrip("/") != "/link" or ticket not in self._unused_tickets:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "unknown or used ticket\n")
            self._unused_tickets.discard(ticket)
        return None

    # -- one connection -----------------------------------------------------------------------

    def _session(self, connection: ServerConnection) -> None:
        with self._changed:
            self.connections.append(connection)
            self._open.append(connection)
            number, open_now = len(self.connections), len(self._open)
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": open_now,
            "debug_info": {
                "host": f"applink-test-{number}",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": APP_ID},
        }
        try:
            connection.send(json.dumps(hello))
            for message in connection:
                self._received(str(message))
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._open.remove(connection)
                self._changed.notify_all()

    def _received(self, message: str) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            data = None
        with self._changed:
            envelope = (
                self.envelopes.get(str(data.get("envelope_id"))) if isinstance(data, dict) else None
            )
            if envelope is None or data is None:
                self.unexpected.append(message)
            else:
                envelope.acks.append((time.monotonic(), dict(data.get("payload") or {})))
            self._changed.notify_all()

    def wait_connected(self, *, newer_than: int = 0, timeout: float = 10) -> ServerConnection:
        """The newest open connection, once there is one among those after the first
        `newer_than` (a restarted bot's, not the one it had before)."""

        def newest() -> ServerConnection | None:
            fresh = [c for c in self.connections[newer_than:] if c in self._open]
            return fresh[-1] if fresh else None

        with self._changed:
            connection = self._changed.wait_for(newest, timeout)
            if connection is None:
                raise AssertionError(f"the bot did not connect by Socket Mode within {timeout} s")
            return connection

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._open)

    # -- what Slack sends ---------------------------------------------------------------------

    def send(self, type: str, payload: dict[str, Any], *, accepts_response_payload: bool) -> str:
        """Send one envelope on the newest connection; returns its envelope_id."""
        connection = self.wait_connected()
        envelope = Envelope(str(uuid.uuid4()), type, payload)
        with self._changed:
            self.envelopes[envelope.envelope_id] = envelope
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope.envelope_id,
                    "type": type,
                    "payload": payload,
                    "accepts_response_payload": accepts_response_payload,
                }
            )
        )
        return envelope.envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> dict[str, Any] | None:
        """What the bot acknowledged the envelope with, or None if it did not within timeout."""
        envelope = self.envelopes[envelope_id]
        with self._changed:
            if not self._changed.wait_for(lambda: envelope.acks, timeout):
                return None
            return envelope.acks[0][1]

    def ask_to_reconnect(self, reason: str = "refresh_requested") -> ServerConnection:
        """Slack's `disconnect`: the client is to open a new connection and leave this one.
        Returns the connection that was asked."""
        connection = self.wait_connected()
        connection.send(
            json.dumps(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-test"}}
            )
        )
        return connection

    # -- what the tests check -----------------------------------------------------------------

    def acknowledgement_problems(self) -> list[str]:
        """Each envelope not acknowledged exactly once within Slack's window, in words."""
        problems = []
        with self._changed:
            for envelope in self.envelopes.values():
                what = f"{envelope.type} envelope {envelope.envelope_id} ({_summary(envelope)})"
                delay = envelope.ack_delay
                if delay is None:
                    problems.append(f"{what} was never acknowledged")
                elif delay > ACK_WINDOW:
                    problems.append(f"{what} was acknowledged after {delay:.2f} s")
                elif len(envelope.acks) > 1:
                    problems.append(f"{what} was acknowledged {len(envelope.acks)} times")
            problems += [f"unexpected message from the bot: {m[:200]}" for m in self.unexpected]
        return problems

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def _summary(envelope: Envelope) -> str:
    payload = envelope.payload
    if envelope.type == "slash_commands":
        return f"{payload.get('command')} {payload.get('text')!r}"
    actions = payload.get("actions") or [{}]
    return str(payload.get("view", {}).get("callback_id") or actions[0].get("action_id") or payload)
