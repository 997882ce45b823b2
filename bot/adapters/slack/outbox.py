"""The outbox worker: delivers every owed notice to Slack, and is the bot's one retry layer
for Slack messages (the Web API client itself does not retry).

Runs on the scheduler's leader, every second: notices are delivered in the order they were
owed, per grant (a later message about a grant never overtakes an earlier one). A failure
Slack may get over (rate limit, 5xx, timeout, no connection) is retried with a backoff capped
at `MAX_BACKOFF` — or after Slack's own Retry-After — so a message owed during an outage
arrives within seconds of Slack answering again; the rest of that pass waits for the next. A refusal
that retrying cannot fix (the channel is gone, the token is revoked), or a notice still
undelivered after `give_up_after`, is given up with an audit event on the grant.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError

from bot.adapters.storage.repository import SqlGrantStore
from bot.domain.grants import SYSTEM, AuditEvent
from bot.domain.notices import Notice, NoticeKind, OwedNotice
from bot.domain.ports import Clock
from bot.services.log_context import scope

log = logging.getLogger(__name__)

#: The longest wait between two tries of one notice, so a recovered Slack is used within
#: seconds. While Slack is down a pass stops at its first failure: one call per few seconds.
MAX_BACKOFF = timedelta(seconds=5)
#: Notices read per pass.
BATCH = 200
#: Seconds of a pass in which deliveries give way to approvals in flight (`before_each`):
#: a burst of approvals is applied first, and no message waits much longer for it.
YIELDING = 3.0
#: Slack errors that mean "try again later".
_TRANSIENT = frozenset(
    {"ratelimited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)


class Deliverer(Protocol):
    def deliver(self, notice: Notice) -> None: ...


class OutboxWorker:
    def __init__(
        self,
        store: SqlGrantStore,
        delivery: Deliverer,
        clock: Clock,
        *,
        give_up_after: timedelta = timedelta(hours=2),
        on_failure: Callable[[str, bool], None] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> None:
        """`on_failure(kind, given_up)`: told of every failed try (the metrics count them);
        `before_each()`: runs before each delivery, for at most YIELDING seconds of a pass
        (it waits, boundedly, while approvals are in flight)."""
        self.before_each = before_each
        self.store = store
        self.delivery = delivery
        self.clock = clock
        self.give_up_after = give_up_after
        self.on_failure = on_failure

    def run_once(self) -> int:
        """One pass over what is owed; returns how many notices were delivered."""
        now = self.clock.now()
        waiting: set[str] = set()  # grants with an earlier notice still owed
        delivered = 0
        owed_now = self.store.owed(limit=BATCH)
        latest = _latest_of_each(owed_now)
        superseded: list[int] = []  # marked delivered together, at the end of the pass
        yield_until = time.monotonic() + YIELDING
        try:
            for owed in owed_now:
                grant_id = owed.notice.grant_id
                if grant_id in waiting or owed.due_at > now:
                    waiting.add(grant_id)
                    continue
                replaced_by = _replaced_by(owed.notice)
                if replaced_by is not None and latest[replaced_by] != owed.id:
                    superseded.append(owed.id)  # a later one shows the same message
                    continue
                if self.before_each is not None and time.monotonic() < yield_until:
                    self.before_each()
                try:
                    with scope(grant_id=grant_id, actor=SYSTEM):
                        self.delivery.deliver(owed.notice)
                except SlackApiError as e:
                    if not self._failed(owed, e, _error_of(e), _retry_after(e)):
                        waiting.add(grant_id)
                        if _status_of(e) >= 500 or _error_of(e) == "ratelimited":
                            break  # Slack is struggling: the rest waits for the next pass
                    continue
                except Exception as e:  # no connection, timeout: Slack is unreachable
                    self._failed(owed, e, f"{type(e).__name__}: {e}", None, transient=True)
                    break
                self.store.delivered(owed.id, self.clock.now())
                delivered += 1
        finally:
            if superseded:
                self.store.delivered_all(superseded, now)
        return delivered

    def _failed(
        self,
        owed: OwedNotice,
        error: Exception,
        what: str,
        retry_after: float | None,
        *,
        transient: bool | None = None,
    ) -> bool:
        """Record a failed try; True when the notice is given up (done with, never to come)."""
        now = self.clock.now()
        if transient is None:
            transient = _status_of(error) >= 500 or what in _TRANSIENT
        notice = owed.notice
        given_up = not transient or now - owed.created_at >= self.give_up_after
        if self.on_failure is not None:
            self.on_failure(str(notice.kind), given_up)
        if given_up:
            why = f"{notice.kind} not delivered to Slack: {what}"
            log.error("giving up on %s for grant %s: %s", notice.kind, notice.grant_id, what)
            self.store.give_up_notice(
                owed.id, AuditEvent(now, SYSTEM, "notice.undeliverable", notice.grant_id, why)
            )
            return True
        wait = min(timedelta(seconds=2**owed.attempts), MAX_BACKOFF)
        if retry_after is not None:  # Slack says when (a rate limit): exactly then
            wait = timedelta(seconds=retry_after)
        log.warning("Slack did not take %s (%s); trying again in %s", notice.kind, what, wait)
        self.store.retry_notice(owed.id, at=now + wait, error=what)
        return False


def _replaced_by(notice: Notice) -> tuple[NoticeKind, str] | None:
    """What a later notice must share for this one to be left out, or None when every one
    counts. An update of the approval message is rendered from the grant as it is now, so of
    several owed only the last needs sending (per grant); a user's App Home likewise (per
    user, of any grant)."""
    if notice.kind is NoticeKind.HOME_REFRESH:
        return (notice.kind, notice.detail)
    if notice.kind is NoticeKind.APPROVAL_UPDATED:
        return (notice.kind, notice.grant_id)
    return None


def _latest_of_each(owed: list[OwedNotice]) -> dict[tuple[NoticeKind, str], int]:
    """The id of the last notice owed for each `_replaced_by` key (the list is in id order)."""
    latest = {}
    for o in owed:
        key = _replaced_by(o.notice)
        if key is not None:
            latest[key] = o.id
    return latest


def _status_of(e: Exception) -> int:
    response = getattr(e, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _error_of(e: SlackApiError) -> str:
    response = e.response
    error = response.get("error") if response is not None else None
    return str(error or f"HTTP {_status_of(e)}")


def _retry_after(e: SlackApiError) -> float | None:
    headers = getattr(e.response, "headers", None) or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError):
                return None
    return None
