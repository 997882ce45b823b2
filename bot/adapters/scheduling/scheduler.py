"""APScheduler jobs that only call services: the sweep, reconcile, precise expiry timers, and
the outbox's deliveries."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from bot.domain.grants import SYSTEM
from bot.services.log_context import scope

log = logging.getLogger(__name__)

#: Threads for jobs: the sweep, reconcile and expiry timers may run at once.
WORKERS = 4


class Leader(Protocol):
    def is_leader(self) -> bool: ...

    def release(self) -> None: ...


class Scheduler:
    """Implements ExpiryTimers. Jobs live in memory only: the database is the source of truth,
    and the sweep (at start and every few seconds) re-arms whatever a restart lost.

    Every job has misfire_grace_time=None: APScheduler's default of 1 s would silently drop a
    revocation that came due while the process was busy or down.
    """

    def __init__(
        self,
        *,
        leader: Leader,
        sweep_interval: float,
        reconcile_interval: float,
    ) -> None:
        self.leader = leader
        self.sweep_interval = sweep_interval
        self.reconcile_interval = reconcile_interval
        self._aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
            executors={"default": {"type": "threadpool", "max_workers": WORKERS}},
        )
        self._expire: Callable[[str], object] | None = None
        self._leading = False

    def start(
        self,
        *,
        expire: Callable[[str], object],
        sweep: Callable[[], object],
        reconcile: Callable[[], object],
        deliver: Callable[[], object],
        deliver_interval: float = 1.0,
    ) -> None:
        self._expire = expire
        now = datetime.now(UTC)
        self._aps.add_job(
            self._leading_only(sweep),
            "interval",
            seconds=self.sweep_interval,
            id="sweep",
            next_run_time=now,
        )
        self._aps.add_job(
            self._leading_only(reconcile),
            "interval",
            seconds=self.reconcile_interval,
            id="reconcile",
            next_run_time=now + timedelta(seconds=min(5.0, self.reconcile_interval)),
        )
        self._aps.add_job(
            self._leading_only(deliver),
            "interval",
            seconds=deliver_interval,
            id="deliver",
            next_run_time=now,
        )
        self._aps.start()

    def _leading_only(self, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            with scope(actor=SYSTEM):
                self._leading = self.leader.is_leader()
                if not self._leading:
                    return
                try:
                    job()
                except Exception:
                    log.exception("scheduled job failed")

        run.__name__ = getattr(job, "__name__", "job")
        return run

    @property
    def leading(self) -> bool:
        """Whether this process ran the scheduler's last tick (it holds the lock)."""
        return self._aps.running and self._leading

    def schedule(self, grant_id: str, at: datetime) -> None:
        if not self._aps.running or self._expire is None or not self._leading:
            return  # the leader's sweep arms it
        if at <= datetime.now(UTC):
            return  # due already: a timer for it is running, or the sweep takes it
        existing = self._aps.get_job(f"expire:{grant_id}")
        if existing is not None and existing.next_run_time == at:
            return  # armed already (the sweep re-arms every grant expiring soon)
        expire = self._expire

        def fire() -> None:
            with scope(actor=SYSTEM, grant_id=grant_id):
                try:
                    expire(grant_id)
                except Exception:
                    log.exception("expiry timer failed")  # the sweep takes the grant over

        self._aps.add_job(
            fire,
            "date",
            run_date=at,
            id=f"expire:{grant_id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def cancel(self, grant_id: str) -> None:
        if not self._aps.running:
            return
        with contextlib.suppress(JobLookupError):
            self._aps.remove_job(f"expire:{grant_id}")

    def shutdown(self, deadline: float | None = None) -> None:
        """Stop the jobs; wait for those running until `deadline` (monotonic), then release
        the lock, so another replica leads at its next tick."""
        if self._aps.running:
            if deadline is None:
                self._aps.shutdown(wait=False)
            else:
                stopping = threading.Thread(target=self._aps.shutdown, name="scheduler-stop")
                stopping.start()
                stopping.join(max(deadline - time.monotonic(), 0))
                if stopping.is_alive():
                    log.warning("stopping with a scheduled job unfinished")
        self.leader.release()
        if deadline is not None:
            log.info("the scheduler lock is released")


class NoTimers:
    """For one-shot CLI commands: the sweep of the running bot arms timers."""

    def schedule(self, grant_id: str, at: datetime) -> None:
        pass

    def cancel(self, grant_id: str) -> None:
        pass
