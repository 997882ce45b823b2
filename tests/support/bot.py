"""Run the real bot (`python -m bot.cli serve`) and talk to it as Slack does: signed HTTP, or
envelopes on the bot's own WebSocket in Socket Mode."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.slack_stub import SlackStub
from tests.support.socket_mode import SocketModeServer

SIGNING_SECRET = "test-signing-secret"
#: An app-level token, as Slack shapes them (`xapp-<n>-<app id>-...`).
APP_TOKEN = "xapp-1-A0APP-1-test"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post(url: str, body: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class SlackSender:
    """Builds Slack's payloads, signs them, posts them to /slack/events."""

    def __init__(self, url: str, stub: SlackStub) -> None:
        self.url = url
        self.stub = stub
        self._n = itertools.count(1)

    def send(
        self,
        form: dict[str, str],
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, str]:
        body = urllib.parse.urlencode(form)
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts) if signature is None else signature,
        }
        headers.update(extra_headers or {})
        return self.deliver(body, headers, timeout)

    def deliver(self, body: str, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        """Over HTTP to the bot; the in-process scenario tests dispatch to the app instead."""
        return post(self.url, body, headers, timeout=timeout)

    @staticmethod
    def _from(user: str, kind: str, trigger: str) -> dict[str, Any]:
        """What every interaction payload says of where it comes from and who sent it."""
        return {
            "type": kind,
            "team": {"id": "T0TEAM", "domain": "example"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
            "api_app_id": "A0APP",
            "token": "legacy",
            "trigger_id": trigger,
        }

    def command_form(self, user: str, text: str, key: str | None = None) -> dict[str, str]:
        """`key` names the response_url, so a caller can find this command's answer."""
        n = key or next(self._n)
        return {
            "token": "legacy",
            "team_id": "T0TEAM",
            "team_domain": "example",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/eks-access",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": self.stub.response_url(n),
            "trigger_id": f"trigger-{n}",
        }

    def command(self, user: str, text: str, key: str | None = None, **kw: Any) -> tuple[int, str]:
        return self.send(self.command_form(user, text, key), **kw)

    def click(
        self, user: str, action_id: str, value: str, key: str | None = None, **kw: Any
    ) -> tuple[int, str]:
        n = key or next(self._n)
        payload = {
            **self._from(user, "block_actions", f"trigger-{n}"),
            "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C0APPROVALS"},
            "channel": {"id": "C0APPROVALS", "name": "approvals"},
            "response_url": self.stub.response_url(n),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        return self.send({"payload": json.dumps(payload)}, **kw)

    def send_event(self, event: dict[str, Any]) -> tuple[int, str]:
        """An Events API callback, as Slack posts it: JSON, signed like the rest."""
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T0TEAM",
                "api_app_id": "A0APP",
                "type": "event_callback",
                "event_id": f"Ev{next(self._n):06d}",
                "event_time": int(time.time()),
                "event": event,
            }
        )
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(body, ts),
        }
        return self.deliver(body, headers, 10)

    def open_home(self, user: str) -> tuple[int, str]:
        return self.send_event(
            {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": "home"}
        )

    def shortcut(self, user: str, callback_id: str = "request_access") -> tuple[int, str]:
        """The global shortcut: no channel, no response_url; a trigger_id for a modal."""
        payload = {
            **self._from(user, "shortcut", f"trigger-{next(self._n)}"),
            "action_ts": str(time.time()),
            "callback_id": callback_id,
        }
        return self.send({"payload": json.dumps(payload)})

    def click_in_view(
        self,
        user: str,
        action_id: str,
        view: dict[str, Any],
        *,
        value: str | None = None,
        selected: str | None = None,
        block_id: str = "b",
    ) -> tuple[int, str]:
        """A button (`value`) or a select (`selected`) inside a view Slack holds (a modal, the
        App Home): the container is the view, and there is no response_url."""
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": str(time.time()),
        }
        if selected is not None:
            action |= {"type": "static_select", "selected_option": {"value": selected}}
        else:
            action |= {"type": "button", "value": value}
        payload = {
            **self._from(user, "block_actions", f"trigger-{next(self._n)}"),
            "container": {"type": "view", "view_id": view["id"]},
            "view": {
                "id": view["id"],
                "hash": view["hash"],
                "type": view.get("type", "modal"),
                "callback_id": view.get("callback_id", ""),
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": {}},
            },
            "actions": [action],
        }
        return self.send({"payload": json.dumps(payload)})

    def submit_view(
        self,
        user: str,
        callback_id: str,
        private_metadata: str,
        values: dict[str, dict[str, str]],
        *,
        state: dict[str, Any] | None = None,
    ) -> tuple[int, str]:
        """`values`: text inputs, block -> {action: text}; `state`: Slack's state.values
        itself (selects), when given."""
        if state is None:
            state = {
                block: {action: {"type": "plain_text_input", "value": value}}
                for block, (action, value) in (
                    (b, next(iter(v.items()))) for b, v in values.items()
                )
            }
        payload = {
            **self._from(user, "view_submission", "t"),
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": state},
                "hash": "h",
                "team_id": "T0TEAM",
                "app_id": "A0APP",
                "bot_id": "B0BOT",
            },
        }
        return self.send({"payload": json.dumps(payload)})


class SocketModeSender(SlackSender):
    """The same payloads, as Slack delivers them in Socket Mode: an envelope on the bot's
    WebSocket, answered by the bot's acknowledgement of it instead of an HTTP response.
    Nothing is signed there: the connection itself was opened with the app-level token."""

    def __init__(self, server: SocketModeServer, stub: SlackStub) -> None:
        super().__init__("socket-mode", stub)
        self.server = server

    def deliver(self, body: str, headers: dict[str, str], timeout: float) -> tuple[int, str]:
        """(200, the ack's payload as JSON, or "" for a bare ack), as an HTTP answer reads;
        (504, "") when no ack came within `timeout`."""
        if headers.get("Content-Type") == "application/json":  # an Events API callback
            envelope_id = self.server.send(
                "events_api", json.loads(body), accepts_response_payload=False
            )
            ack = self.server.wait_ack(envelope_id, timeout)
            return (504, "") if ack is None else (200, json.dumps(ack) if ack else "")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
        if "payload" in form:  # an interaction: its JSON, as is
            payload = json.loads(form["payload"])
            envelope_id = self.server.send(
                "interactive",
                payload,
                accepts_response_payload=payload.get("type") == "view_submission",
            )
        else:  # a slash command: the form's fields
            envelope_id = self.server.send("slash_commands", form, accepts_response_payload=True)
        ack = self.server.wait_ack(envelope_id, timeout)
        if ack is None:
            return 504, ""
        return 200, json.dumps(ack) if ack else ""


class BotProcess:
    """The bot as a real process. kill() with SIGKILL simulates a crash; start() again.

    With `socket_mode`, Slack reaches it through that server instead of HTTP: the bot gets an
    app token and no signing secret, serves /healthz and /metrics on `port` (METRICS_PORT),
    and nothing on PORT."""

    def __init__(
        self,
        *,
        policy: dict[str, Any],
        database_url: str,
        stub: SlackStub,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        socket_mode: SocketModeServer | None = None,
    ) -> None:
        self.port = free_port()
        self.socket_mode = socket_mode
        self.workdir = workdir
        self.policy_path = workdir / "policy.yaml"
        self.policy_path.write_text(yaml.safe_dump(policy, sort_keys=False))
        environ = {k: v for k, v in os.environ.items() if k != "SLACK_APP_TOKEN"}
        if socket_mode is not None:
            stub.socket_mode_url = socket_mode.issue_url
            environ |= {"SLACK_APP_TOKEN": APP_TOKEN, "METRICS_PORT": str(self.port)}
        self.env = {
            **environ,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": stub.url,
            "DATABASE_URL": database_url,
            "EKS_ACCESS_POLICY": str(self.policy_path),
            "HOST": "127.0.0.1",
            # In Socket Mode a port nobody may listen on: the bot has no Slack endpoint.
            "PORT": str(self.port if socket_mode is None else free_port()),
            "EKS_ACCESS_SWEEP_INTERVAL": "1",
            "EKS_ACCESS_STEP_LEASE": "2",
            "EKS_ACCESS_RECONCILE_INTERVAL": "3",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        if socket_mode is not None:  # nothing is signed on the socket: the bot needs no secret
            del self.env["SLACK_SIGNING_SECRET"]
        self.stub = stub
        self.slack = (
            SlackSender(f"http://127.0.0.1:{self.port}/slack/events", stub)
            if socket_mode is None
            else SocketModeSender(socket_mode, stub)
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "bot.log"

    def start(self, timeout: float = 30, extra_env: dict[str, str] | None = None) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        connections_before = len(self.socket_mode.connections) if self.socket_mode else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited at start:\n{self.log()}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/healthz", timeout=1
                ) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the bot did not become healthy:\n{self.log()}")
        while self.socket_mode is not None:  # healthy first: its connection follows
            try:
                self.socket_mode.wait_connected(newer_than=connections_before, timeout=0.5)
                return
            except AssertionError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the bot exited at start:\n{self.log()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bot did not connect:\n{self.log()}") from None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
