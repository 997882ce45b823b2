"""A Slack Web API stub on loopback that records every call (as Bolt's own tests do).

Also serves response_url endpoints (/response/<n>) and can be told to fail a method a few
times (rate limits, 5xx) to exercise the bot's retries. With a Socket Mode server attached
(`socket_mode_url`), `apps.connections.open` hands out its URLs, as Slack's does: only to the
app-level token, passed in the Authorization header.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None = None
    at: float = field(default_factory=time.monotonic)


class SlackStub:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.group_members: dict[str, list[str]] = {}
        #: users.info answers: Slack user id -> profile email (users:read.email).
        self.emails: dict[str, str] = {}
        self.failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        #: While true, every Web API method answers 503 (an outage; response_urls still work).
        self.down = False
        #: The Retry-After header of a `ratelimited` answer, in seconds.
        self.retry_after = "0"
        #: Issues a fresh Socket Mode URL (tests.support.socket_mode), if this test has one.
        self.socket_mode_url: Callable[[], str] | None = None
        self._ts = itertools.count(1)
        #: The modals open now (views.open, views.update), by view id, as Slack holds them.
        self.views: dict[str, dict[str, Any]] = {}
        #: Each user's App Home as last published (views.publish).
        self.homes: dict[str, dict[str, Any]] = {}
        self._view_ids = itertools.count(1)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            # A reply's headers and body go out in two writes; with Nagle's algorithm the body
            # waits for the client's delayed ACK, 40 ms for most replies.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                path = self.path.split("?")[0].strip("/")
                method = path.removeprefix("api/")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or None
                status, body = stub._answer(method, args, token)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if body.get("error") == "ratelimited":
                    self.send_header("Retry-After", stub.retry_after)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the loop to look up: every 50 ms instead of the default 0.5 s.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def response_url(self, n: int | str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/response/{n}"

    def fail(
        self, method: str, times: int, status: int = 500, error: str = "internal_error"
    ) -> None:
        with self._lock:
            self.failures.setdefault(method, []).extend(
                [(status, {"ok": False, "error": error})] * times
            )

    def _answer(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any]]:
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        with self._lock:
            self.calls.append(Call(method, args, token))
            queued = self.failures.get(method)
            if queued:
                return queued.pop(0)
            if self.down and not method.startswith("response/") and method != "auth.test":
                return 503, {"ok": False, "error": "service_unavailable"}
        if method.startswith("response/"):
            return 200, {"ok": True}
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "T",
                "user": "eks-access",
                "team_id": "T0TEAM",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "chat.postMessage":
            return 200, {
                "ok": True,
                "channel": args.get("channel"),
                "ts": f"{next(self._ts)}.000100",
                "message": {"text": args.get("text")},
            }
        if method.startswith("views."):
            return self._views(method, args)
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": f"{next(self._ts)}.000200"}
        if method == "apps.connections.open":
            return 200, self._connections_open(token)
        if method == "users.info":
            user = args.get("user", "")
            profile = {"email": self.emails[user]} if user in self.emails else {}
            return 200, {"ok": True, "user": {"id": user, "profile": profile}}
        if method == "usergroups.users.list":
            return 200, {"ok": True, "users": self.group_members.get(args.get("usergroup", ""), [])}
        return 200, {"ok": True}

    def _views(self, method: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """views.open/update/publish as Slack answers them: the view with its id and a fresh
        hash; an update naming a stale hash is refused (`hash_conflict`), one naming no open
        view `not_found`."""
        view = dict(args.get("view") or {})
        with self._lock:
            n = next(self._view_ids)
            if method == "views.open":
                if not args.get("trigger_id"):
                    return 200, {"ok": False, "error": "invalid_trigger_id"}
                view_id = f"V{n:04d}"
            elif method == "views.update":
                view_id = str(args.get("view_id") or "")
                held = self.views.get(view_id)
                if held is None:
                    return 200, {"ok": False, "error": "not_found"}
                if args.get("hash") and args["hash"] != held["hash"]:
                    return 200, {"ok": False, "error": "hash_conflict"}
            elif method == "views.publish":
                view_id = f"VH{n:04d}"
                self.homes[str(args.get("user_id"))] = view
            else:
                return 200, {"ok": True}
            view |= {"id": view_id, "hash": f"hash-{n}"}
            if method != "views.publish":
                self.views[view_id] = view
        return 200, {"ok": True, "view": view}

    def _connections_open(self, token: str | None) -> dict[str, Any]:
        """Only an app-level token opens a connection: its docs call a missing one
        `missing_args`; a bot or user token is the wrong type of token."""
        if not token:
            return {"ok": False, "error": "missing_args"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.socket_mode_url is None:
            return {"ok": False, "error": "this test serves no Socket Mode"}
        return {"ok": True, "url": self.socket_mode_url()}

    # -- reading what the bot said ----------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def texts(self, method: str = "chat.postMessage", channel: str | None = None) -> list[str]:
        out = []
        for c in self.of(method):
            if channel is None or c.args.get("channel") == channel:
                out.append(flatten(c.args))
        return out

    def responses(self) -> list[str]:
        with self._lock:
            return [flatten(c.args) for c in self.calls if c.method.startswith("response/")]

    def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "a Slack call") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; calls: {[c.method for c in self.calls]}"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def flatten(args: dict[str, Any]) -> str:
    """All human-visible text of a message: its text and every text inside its blocks."""
    parts = [str(args.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(args.get("blocks"))
    return "\n".join(p for p in parts if p)
