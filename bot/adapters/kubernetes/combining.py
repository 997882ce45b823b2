"""Flat combining: callers queue their changes, and one of them writes them all at once.

A caller queues its change and, if no batch is being written, writes every change queued
so far, its own included, in one `write_batch` call; otherwise it waits. When a batch is
done, each caller of it is answered with its own result or its own error, and the first
caller still queued (the changes that arrived while that batch was written) takes over as
the next writer. So a caller never waits for more than the batch being written plus its own,
and no thread is kept to write.

A change may be announced before it is submitted (`announce`: an approval whose decision is
being written). A writer about to take its batch waits for the announced changes still to
come, for at most `fill_wait` seconds: when many approvals land at once, a few large batches
then go out instead of many small ones, each a write and a parse of the whole object. Nothing
else waits for a batch to fill: a single change, or one whose announcement was its own, goes
out at once, and an announcement that is never followed by its change lapses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

C = TypeVar("C")
R = TypeVar("R")

#: Writes a batch; returns, per change and in order, its result or the error it fails with.
WriteBatch = Callable[[Sequence[C]], Sequence[R | Exception]]


class _Queued(Generic[C, R]):
    def __init__(self, change: C) -> None:
        self.change = change
        self.answered = threading.Event()  # set when done, or when it is this caller's turn
        self.writes_next = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def answer(self) -> R:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # R itself may be None


class Combiner(Generic[C, R]):
    """The queue of one object's pending changes (here: one cluster's aws-auth)."""

    def __init__(
        self,
        key: Callable[[C], Hashable] = id,
        *,
        fill_wait: float = 0.0,
        announced_for: float = 1.0,
    ) -> None:
        """`key`: what `announce` names a change by; `fill_wait`: the longest a writer waits
        for announced changes; `announced_for`: when an announcement lapses."""
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._queue: list[_Queued[C, R]] = []
        self._writing = False
        self._key = key
        self._fill_wait = fill_wait
        self._announced_for = announced_for
        #: key -> when its announcement lapses (monotonic seconds)
        self._announced: dict[Hashable, float] = {}

    @property
    def idle(self) -> bool:
        """Whether no batch is being written and none waits."""
        with self._lock:
            return not self._writing and not self._queue

    def announce(self, key: Hashable) -> None:
        """A change with this key is about to be submitted."""
        if self._fill_wait > 0:
            with self._lock:
                self._announced[key] = time.monotonic() + self._announced_for

    @property
    def queued(self) -> int:
        """How many changes wait for the next batch."""
        with self._lock:
            return len(self._queue)

    def submit(self, change: C, write_batch: WriteBatch[C, R]) -> R:
        """`change`'s result once a batch with it is written (by this caller or another)."""
        mine: _Queued[C, R] = _Queued(change)
        with self._lock:
            self._queue.append(mine)
            if self._announced.pop(self._key(change), None) is not None:
                self._arrived.notify_all()
            wait, self._writing = self._writing, True
        if wait:
            mine.answered.wait()
            if not mine.writes_next:
                return mine.answer()
        with self._lock:
            self._await_announced()
            batch, self._queue = self._queue, []
        try:
            _write(batch, write_batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].writes_next = True
                    self._queue[0].answered.set()
                else:
                    self._writing = False
        return mine.answer()

    def _await_announced(self) -> None:
        """Wait (the lock held, released while waiting) until every announced change has
        arrived, its announcement lapsed, or `fill_wait` has passed."""
        deadline = time.monotonic() + self._fill_wait
        while self._announced:
            now = time.monotonic()
            self._announced = {k: t for k, t in self._announced.items() if t > now}
            if not self._announced or now >= deadline:
                return
            self._arrived.wait(deadline - now)


def _write(batch: list[_Queued[C, R]], write_batch: WriteBatch[C, R]) -> None:
    try:
        results = write_batch([q.change for q in batch])
        if len(results) != len(batch):
            raise RuntimeError(f"{len(batch)} changes written, {len(results)} results")
    except BaseException as failed:  # the whole batch failed alike: each caller is told
        for q in batch:
            q.error = failed
    else:
        for q, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                q.error = result
            else:
                q.result = result
    for q in batch:
        q.answered.set()
