"""Acks before answers.

Slack wants an ack within 3 s; the answer that follows may come much later (a response URL
stays valid for 30 minutes). Under load both compete for the same CPU and GIL, so deferred
answers wait, briefly and boundedly, while requests are still being acked.
"""

from __future__ import annotations

import threading


class AcksFirst:
    def __init__(self, max_wait: float = 0.5) -> None:
        #: An answer never waits longer than this for the acks to drain.
        self.max_wait = max_wait
        self._in_flight = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_turn(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=self.max_wait)
