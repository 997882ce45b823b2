"""Answers wait while acks are in flight, but never longer than the bound."""

from __future__ import annotations

import threading
import time

from bot.adapters.web.priority import Precedence


def test_answer_waits_for_acks_in_flight_then_runs() -> None:
    acks = Precedence(max_wait=5)
    acks.enter()
    started = threading.Event()

    def answer() -> None:
        acks.wait_turn()
        started.set()

    worker = threading.Thread(target=answer)
    worker.start()
    time.sleep(0.1)
    assert not started.is_set()
    acks.leave()
    assert started.wait(1)


def test_answer_is_never_starved_past_the_bound() -> None:
    acks = Precedence(max_wait=0.2)
    acks.enter()  # an ack that never ends
    t = time.monotonic()
    acks.wait_turn()
    assert 0.15 < time.monotonic() - t < 1.0
