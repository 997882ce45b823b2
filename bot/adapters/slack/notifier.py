"""Notifier on the Slack Web API.

Posting the approval message is synchronous (its ts is stored to update it later). Everything
else goes through one background worker with retries, so a rate limit or a Slack outage never
blocks a revoke and messages keep their order.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.adapters.slack import blocks
from bot.domain.grants import EndReason, Extension, Grant, GrantStatus
from bot.domain.policy import ClusterConfig, Policy, Profile
from bot.domain.ports import ActivationFailed, Alert, MessageRef

log = logging.getLogger(__name__)


class SlackNotifier:
    def __init__(
        self, client: WebClient, policy: Policy, *, attempts: int = 5, backoff: float = 1.0
    ) -> None:
        self.client = client
        self.policy = policy
        self.attempts = attempts
        self.backoff = backoff
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="slack-notifier", daemon=True)
        self._worker.start()

    # -- delivery -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None:
                    return
                self._with_retries(job)
            finally:
                self._queue.task_done()

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except SlackApiError as e:
                error = e.response.get("error") if e.response is not None else None
                status = e.response.status_code if e.response is not None else 0
                if status < 500 and error not in (
                    "ratelimited",
                    "service_unavailable",
                    "fatal_error",
                    "internal_error",
                    "request_timeout",
                ):
                    log.warning("Slack refused %s: %s", getattr(call, "__name__", "call"), error)
                    return None
                log.warning("Slack error %s (attempt %d)", error or status, attempt)
            except Exception as e:
                log.warning("Slack unreachable (attempt %d): %s", attempt, e)
            if attempt < self.attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        log.error("giving up on a Slack message after %d attempts", self.attempts)
        return None

    def _later(self, call: Callable[[], Any]) -> None:
        self._queue.put(call)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message has been tried (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)

    def _post(
        self, channel: str, text: str, blocks_: list[dict[str, Any]] | None = None
    ) -> MessageRef | None:
        resp = self._with_retries(
            lambda: self.client.chat_postMessage(channel=channel, text=text, blocks=blocks_)
        )
        if resp is None:
            return None
        return MessageRef(channel=str(resp["channel"]), ts=str(resp["ts"]))

    def _dm(self, user: str, text: str, blocks_: list[dict[str, Any]] | None = None) -> None:
        self._later(lambda: self.client.chat_postMessage(channel=user, text=text, blocks=blocks_))

    def _update(
        self, channel: str | None, ts: str | None, text: str, blocks_: list[dict[str, Any]]
    ) -> None:
        if channel and ts:
            self._later(
                lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks_)
            )

    # -- Notifier ---------------------------------------------------------------------------

    def approval_requested(self, grant: Grant, profile: Profile) -> MessageRef | None:
        text = f"<@{grant.requester}> requests {grant.profile} on {grant.cluster}/{grant.namespace}"
        return self._post(
            self.policy.approval_channel, text, blocks.approval_request(grant, profile)
        )

    def approval_updated(self, grant: Grant) -> None:
        self._update(
            grant.approval_channel,
            grant.approval_ts,
            f"Request {grant.id}: {grant.status.label}",
            blocks.approval_outcome(grant),
        )

    def grant_active(self, grant: Grant, cluster: ClusterConfig) -> None:
        self._dm(
            grant.requester,
            f"Your access {grant.profile} is active (request {grant.id})",
            blocks.access_active(grant, cluster),
        )

    def grant_denied(self, grant: Grant) -> None:
        note = f" Reason: {grant.decision_note}" if grant.decision_note else ""
        self._dm(
            grant.requester,
            f":no_entry: Your request `{grant.id}` for *{grant.profile}* was denied by "
            f"<@{grant.decided_by}>.{blocks.escape(note)}",
        )

    def grant_ended(self, grant: Grant) -> None:
        if grant.end_reason is EndReason.FAILED:
            text = (
                f":x: Your request `{grant.id}` for *{grant.profile}* was approved but could not "
                f"be applied: {blocks.escape(grant.end_detail or '')}. Nothing was left behind."
            )
        elif grant.end_reason is EndReason.REVOKED:
            text = f":lock: Your access `{grant.id}` (*{grant.profile}*) was revoked by <@{grant.ended_by}>."
        else:
            text = (
                f":lock: Your access `{grant.id}` (*{grant.profile}*) has expired and was removed."
            )
        self._dm(grant.requester, text)

    def grant_delayed(self, grant: Grant) -> None:
        self._dm(
            grant.requester,
            f":gear: Your request `{grant.id}` for *{grant.profile}* was approved by "
            f"<@{grant.decided_by}>, but cluster `{grant.cluster}` is not answering yet. "
            "The bot keeps trying and tells you as soon as your access is active.",
        )

    def request_timed_out(self, grant: Grant) -> None:
        self._dm(
            grant.requester,
            f":hourglass_flowing_sand: Your request `{grant.id}` for *{grant.profile}* got no "
            "decision in time and was closed. Ask again if you still need it.",
        )

    def expiry_warning(self, grant: Grant) -> None:
        self._dm(grant.requester, f"Your access {grant.id} ends soon", blocks.expiry_warning(grant))

    def extension_requested(self, extension: Extension, grant: Grant) -> MessageRef | None:
        return self._post(
            self.policy.approval_channel,
            f"<@{extension.requested_by}> asks to extend {grant.id}",
            blocks.extension_request(extension, grant),
        )

    def extension_decided(self, extension: Extension, grant: Grant) -> None:
        outcome = blocks.extension_outcome(extension, grant)
        self._update(
            extension.approval_channel,
            extension.approval_ts,
            f"Extension of {grant.id}: {extension.status.value}",
            outcome,
        )
        self._dm(grant.requester, f"Extension of {grant.id}: {extension.status.value}", outcome)

    def alert(self, alert: Alert) -> None:
        text = alert_text(alert)
        self._later(lambda: self.client.chat_postMessage(channel=self.policy.alerts_to, text=text))


def alert_text(alert: Alert) -> str:
    grant = alert.grant
    if isinstance(alert, ActivationFailed):
        return (
            f":x: Grant `{grant.id}` for <@{grant.requester}> could not be applied: "
            f"{grant.end_detail}"
        )
    verb = "revoke" if grant.status is GrantStatus.REVOKING else "activate"
    return (
        f":warning: eks-access cannot {verb} grant `{grant.id}` (<@{grant.requester}>, "
        f"`{grant.profile}` on `{grant.cluster}`/`{grant.namespace}`) after {grant.attempts} "
        f"attempts: {alert.error}. It keeps retrying."
    )
