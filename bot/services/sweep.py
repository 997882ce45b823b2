"""The database sweep: everything time-driven, driven from the database, not from memory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain import extension_transitions, transitions
from bot.domain.grants import SYSTEM, Grant
from bot.services.activate import ActivateGrant
from bot.services.deps import Deps
from bot.services.expire import ExpireGrant
from bot.services.finish_revocation import FinishRevocation
from bot.services.log_context import scope
from bot.services.remind import RemindApprovers

log = logging.getLogger(__name__)

#: Precise timers are armed for grants expiring this soon: far beyond the sweep interval, so
#: no expiry falls between two passes without a timer.
TIMER_HORIZON = timedelta(seconds=30)


@dataclass
class SweepReport:
    expired: int = 0
    retried: int = 0
    timed_out: int = 0
    warned: int = 0
    reminded: int = 0
    errors: list[str] = field(default_factory=list)


class SweepDue:
    """Runs at start and every few seconds on the one scheduler replica.

    Revokes whatever is past its expiry (also after downtime: a missed in-memory timer is
    caught here), retries activations and revocations whose backoff is over, warns before
    expiry, times out pending requests and reminds the approvers of those still waiting, and
    arms precise timers for grants expiring soon (including grants approved on another
    replica).
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def execute(self) -> SweepReport:
        deps, report = self.deps, SweepReport()
        now = deps.clock.now()
        store = deps.store
        # A cluster that fails once in this pass is not called again until the next one: in a
        # network partition every call would wait out its timeout, grant after grant.
        down: set[str] = set()
        for grant in store.due_for_expiry(now):
            reach = grant.cluster not in down
            self._step(
                report,
                down,
                grant.cluster,
                ExpireGrant(deps).execute,
                grant_id=grant.id,
                reach_cluster=reach,
            )
            report.expired += 1
        for grant in store.activations_due(now):
            if grant.cluster not in down:
                self._step(
                    report, down, grant.cluster, ActivateGrant(deps).execute, grant_id=grant.id
                )
                report.retried += 1
        for grant in store.revocations_due(now):
            if grant.cluster not in down:
                self._step(
                    report, down, grant.cluster, FinishRevocation(deps).execute, grant_id=grant.id
                )
                report.retried += 1
        for grant in store.requests_past_deadline(now):
            with scope(grant_id=grant.id, actor=SYSTEM):
                timed_out = store.apply(transitions.time_out(grant, now=now))
                if timed_out is not None:
                    report.timed_out += 1
                    log.info("request %s timed out undecided", grant.id)
        for ext in store.extensions_past_deadline(now):
            store.apply(extension_transitions.time_out_extension(ext, now=now))
        report.reminded = RemindApprovers(self.deps).execute(now=now)
        self._warn(report, now)
        for grant in store.active_expiring_by(now + TIMER_HORIZON):
            assert grant.expires_at is not None
            deps.timers.schedule(grant.id, grant.expires_at)
        return report

    def _warn(self, report: SweepReport, now: datetime) -> None:
        deps = self.deps
        longest = max((p.warn_before for p in deps.policy.profiles.values()), default=timedelta(0))
        for grant in deps.store.due_for_warning(now, longest):
            profile = deps.policy.profiles.get(grant.profile)
            if profile is None or grant.expires_at is None:
                continue
            if grant.expires_at - profile.warn_before > now:
                continue
            warned = deps.store.apply(transitions.warn(grant, now=now))
            if warned is not None:
                report.warned += 1

    @staticmethod
    def _step(
        report: SweepReport,
        down: set[str],
        cluster: str,
        step: Callable[..., object],
        **kwargs: object,
    ) -> None:
        """One grant's failure must not stop the sweep for the others; a cluster that failed
        (the grant records a retry) is marked down for the rest of the pass."""
        with scope(actor=SYSTEM, grant_id=str(kwargs["grant_id"]), cluster=cluster):
            try:
                result = step(**kwargs)
            except Exception as e:
                log.exception("sweep step failed for %s", kwargs)
                report.errors.append(f"{kwargs}: {e}")
                return
        if isinstance(result, Grant) and result.last_error and result.attempts > 0:
            down.add(cluster)
