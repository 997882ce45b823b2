"""How the bot retries a cluster step that failed in a way that may pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Retry:
    """Backoff for external steps that failed transiently: base * 2^(attempt-1), capped."""

    #: The first retry's wait (2 s); each further one doubles it.
    base: timedelta = timedelta(seconds=2)
    #: The longest wait between two attempts (2 min), however many failed.
    cap: timedelta = timedelta(minutes=2)
    #: A state written before an external step holds it this long (30 s) before the sweep may
    #: retry, so the sweep does not race a step that is still running on another replica.
    lease: timedelta = timedelta(seconds=30)
    #: After this many failed attempts in a row (3), the alert channel hears of it, once.
    alert_after: int = 3

    def delay(self, attempt: int) -> timedelta:
        return min(self.base * (2 ** max(attempt - 1, 0)), self.cap)
