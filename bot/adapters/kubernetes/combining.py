"""Flat combining: callers queue their changes, and one of them writes them all at once.

A caller queues its change and, if no batch is being written, writes every change queued
so far, its own included, in one `write_batch` call; otherwise it waits. When a batch is
done, each caller of it is answered with its own result or its own error, and the first
caller still queued (the changes that arrived while that batch was written) takes over as
the next writer. So a caller never waits for more than the batch being written plus its own,
no thread is kept to write, and nothing waits for a batch to fill: a single change goes
out at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
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

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued[C, R]] = []
        self._writing = False

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
            wait, self._writing = self._writing, True
        if wait:
            mine.answered.wait()
            if not mine.writes_next:
                return mine.answer()
        with self._lock:
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
