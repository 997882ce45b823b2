"""Work that goes first, and work that waits for it.

Slack wants an ack within 3 s; the answer that follows may come much later (a response URL
stays valid for 30 minutes). Likewise an approval is waited on by the person who asked, while
the messages about it may follow a moment later. Under load both compete for the same CPU and
GIL, so the work that can wait does, briefly and boundedly, while the work that goes first is
in flight: answers wait for acks, and the outbox's deliveries for approvals.
"""

from __future__ import annotations

import threading


class Precedence:
    def __init__(self, max_wait: float = 0.5) -> None:
        #: Work that waits never waits longer than this (each time) for the first to drain.
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
