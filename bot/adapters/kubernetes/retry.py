"""Bounded, jittered exponential backoff for optimistic-concurrency conflicts (409)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConflictBackoff:
    """How often and how long to wait before re-reading an object another writer changed.

    attempts: total tries, the first included (8).
    base: seconds before the second try (0.05); doubled after each conflict.
    cap: the longest single wait in seconds (2.0).
    Each wait is drawn uniformly from [0, min(cap, base * 2**n)] ("full jitter"), so writers
    that collided once do not collide again in lock-step.
    """

    attempts: int = 8
    base: float = 0.05
    cap: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    rng: Callable[[], float] = random.random

    def wait(self, failed_attempt: int) -> None:
        """Sleep after the `failed_attempt`-th try (counted from 0)."""
        self.sleep(self.rng() * min(self.cap, self.base * 2**failed_attempt))
