"""The Bolt app: built from settings, listeners registered explicitly (no global app)."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.adapters.slack import actions, break_glass, commands, end_buttons, request_dialog
from bot.adapters.slack import home as home_tab
from bot.adapters.slack.clicker import Answer
from bot.adapters.slack.home import HomeTab
from bot.adapters.web.priority import Precedence
from bot.config import SlackSettings
from bot.services.deps import Deps
from bot.services.log_context import note, scope

log = logging.getLogger(__name__)


def web_client(settings: SlackSettings) -> WebClient:
    base = settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"
    # No retry handlers: the outbox worker is the one retry layer for messages, and an
    # interactive call (views.open) must answer within its trigger's 3 s or not at all.
    return WebClient(token=settings.bot_token, base_url=base, timeout=10, retry_handlers=[])


def build_app(settings: SlackSettings, client: WebClient, deps: Deps, work: WorkPools) -> App:
    """Bolt calls auth.test here, through `client`, i.e. at SLACK_API_URL.

    Listeners ack and hand their work to `work`, the bot's own pools: Bolt's listener threads
    then only ever ack, so an ack never waits behind another command's database or cluster
    calls (Slack gives 3 s), and a storm of approvals queues in a pool, not in front of acks.
    """
    # Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused beside `client`, which
    # carries that very token.
    logging.getLogger("slack_bolt.App").addFilter(_not_the_unused_token_warning)
    app = ScopedApp(
        client=client,
        signing_secret=settings.signing_secret,
        process_before_response=False,
        # Bolt's default is a plain pool of 5; this one carries the request's log fields.
        listener_executor=work_pool(5, "listeners"),
    )
    app.use(note_the_user)
    home = HomeTab(deps, client)
    answer = Answer(client, home)
    dialog = request_dialog.register(app, deps, work.answers, work.decisions)
    commands.register(app, deps, work.answers, activations=work.decisions, open_dialog=dialog.open)
    actions.register(app, deps, work.decisions, answer)
    end_buttons.register(app, deps, work.decisions, answer)
    break_glass.register(app, deps, work.decisions)
    home_tab.register(app, home, work.answers)
    return app


class ScopedApp(App):
    """Each request Slack sends is one unit of work for the log (bot.services.log_context):
    its lines, and those of the work it hands to the pools, carry who is acting."""

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with scope():
            return super().dispatch(req)


def note_the_user(body: dict[str, Any], next_: Callable[[], None]) -> None:
    """A global middleware, after Bolt's own: the request is verified, its user is the actor."""
    note(actor=_user_of(body))
    next_()


def _user_of(body: dict[str, Any]) -> str | None:
    """Clicks and dialogs name `user.id`, slash commands `user_id`, events `event.user`."""
    user = body.get("user")
    if isinstance(user, dict):
        return user.get("id")
    return body.get("user_id") or (body.get("event") or {}).get("user")


def _not_the_unused_token_warning(record: logging.LogRecord) -> bool:
    return "`token` will be unused" not in record.getMessage()


class WorkPool(ThreadPoolExecutor):
    """The work after an ack. A failure is logged: nobody waits on these futures.

    `before_each`, if given, runs before each job (answers yield to acks in flight);
    `goes_first`, if given, counts this pool's jobs from submission to end as work that goes
    first (the outbox yields to approvals in flight). A job runs with the log fields of the
    work that submitted it, in a scope of its own."""

    def __init__(
        self,
        *args: Any,
        before_each: Callable[[], None] | None = None,
        goes_first: Precedence | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.before_each = before_each
        self.goes_first = goes_first
        self._in_flight: set[Future[Any]] = set()
        self._in_flight_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def logged() -> Any:
            if self.before_each is not None:
                self.before_each()
            with scope():
                try:
                    return fn(*args, **kwargs)
                except Exception:
                    log.exception("work after an ack failed")
                    return None

        if self.goes_first is not None:
            self.goes_first.enter()
        try:
            future = super().submit(contextvars.copy_context().run, logged)
        except BaseException:
            if self.goes_first is not None:
                self.goes_first.leave()
            raise
        with self._in_flight_lock:
            self._in_flight.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(future)
        if self.goes_first is not None:
            self.goes_first.leave()

    def drain(self, deadline: float) -> None:
        """Take no more work; wait for what was submitted, until `deadline` (monotonic)."""
        self.shutdown(wait=False)
        with self._in_flight_lock:
            pending = set(self._in_flight)
        _, late = wait(pending, timeout=max(deadline - time.monotonic(), 0))
        if late:
            log.warning("stopping with %d job(s) of %s unfinished", len(late), self)


def work_pool(
    threads: int,
    name: str,
    before_each: Callable[[], None] | None = None,
    goes_first: Precedence | None = None,
) -> WorkPool:
    return WorkPool(
        max_workers=threads,
        thread_name_prefix=f"eks-access-{name}",
        before_each=before_each,
        goes_first=goes_first,
    )


@dataclass(frozen=True)
class WorkPools:
    """Answers to commands (short, CPU-bound: few threads, so acks keep the CPU) apart from
    decisions (they wait on clusters: a stuck cluster must not hold up every answer)."""

    answers: Executor
    decisions: Executor

    def drain(self, deadline: float) -> None:
        for pool in (self.answers, self.decisions):
            if isinstance(pool, WorkPool):
                pool.drain(deadline)
            else:
                pool.shutdown(wait=True)
