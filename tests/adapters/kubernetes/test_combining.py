"""The combining writer alone, with threads and a batch writer of the test's own (no cluster)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from bot.adapters.kubernetes.combining import Combiner
from tests.support.waiting import wait_until


class Writer:
    """Writes batches of ints: doubles them, refuses negative ones, can be held mid-write."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.writing = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, changes: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(changes))
        self.writing.set()
        assert self.release.wait(10)
        return [ValueError(f"{c} is negative") if c < 0 else 2 * c for c in changes]


def submit_all(combiner: Combiner[int, int], writer: Writer, changes: list[int]) -> list[object]:
    """Each change from a thread of its own; what each caller got back, in order."""
    results: list[object] = [None] * len(changes)

    def call(n: int) -> None:
        try:
            results[n] = combiner.submit(changes[n], writer)
        except Exception as e:
            results[n] = e

    threads = [threading.Thread(target=call, args=(n,)) for n in range(len(changes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    return results


def test_a_lone_change_is_written_at_once_by_its_caller() -> None:
    writer = Writer()
    assert Combiner[int, int]().submit(21, writer) == 42
    assert writer.batches == [[21]]


def test_changes_that_arrive_during_a_write_go_out_together_in_the_next() -> None:
    combiner: Combiner[int, int] = Combiner()
    writer = Writer()
    writer.release.clear()  # the first write hangs until released
    first = threading.Thread(target=combiner.submit, args=(0, writer))
    first.start()
    assert writer.writing.wait(5)
    rest = list(range(1, 31))
    results: list[object] = []
    later = threading.Thread(target=lambda: results.extend(submit_all(combiner, writer, rest)))
    later.start()
    wait_until(lambda: combiner.queued == len(rest), 5, "everyone waits behind the write")
    writer.release.set()
    first.join(5)
    later.join(10)

    assert len(writer.batches) == 2
    assert writer.batches[0] == [0] and sorted(writer.batches[1]) == rest
    assert results == [2 * c for c in rest]
    assert combiner.queued == 0


def test_each_caller_gets_its_own_error() -> None:
    writer = Writer()
    results = submit_all(Combiner(), writer, [3, -1, 5, -7])

    assert results[0] == 6 and results[2] == 10
    assert isinstance(results[1], ValueError) and "-1" in str(results[1])
    assert isinstance(results[3], ValueError) and "-7" in str(results[3])


def test_a_batch_that_fails_whole_fails_its_callers_and_the_next_one_goes_on() -> None:
    combiner: Combiner[int, int] = Combiner()
    calls: list[list[int]] = []

    def flaky(changes: Sequence[int]) -> list[int | Exception]:
        calls.append(list(changes))
        if len(calls) == 1:
            raise ConnectionError("apiserver went away")
        return list(changes)

    with pytest.raises(ConnectionError):
        combiner.submit(1, flaky)
    assert combiner.submit(2, flaky) == 2
    assert calls == [[1], [2]]


def test_a_writer_that_answers_for_the_wrong_number_of_changes_fails_them_all() -> None:
    combiner: Combiner[int, int] = Combiner()
    with pytest.raises(RuntimeError, match="1 changes written, 0 results"):
        combiner.submit(1, lambda changes: [])
    assert combiner.submit(2, lambda changes: [5]) == 5


def test_many_callers_many_batches_nobody_lost() -> None:
    writer = Writer()
    changes = list(range(200))
    results = submit_all(Combiner(), writer, changes)

    assert results == [2 * c for c in changes]
    assert sorted(c for batch in writer.batches for c in batch) == changes


def keyed(fill_wait: float, announced_for: float = 10.0) -> Combiner[int, int]:
    """Changes named by themselves."""
    return Combiner(lambda change: change, fill_wait=fill_wait, announced_for=announced_for)


def test_a_writer_waits_for_an_announced_change_and_writes_it_along() -> None:
    combiner, writer = keyed(fill_wait=10.0), Writer()
    combiner.announce(2)
    first = threading.Thread(target=combiner.submit, args=(1, writer))
    first.start()
    wait_until(lambda: combiner.queued == 1, 5, "the first change waits for the second")
    assert writer.batches == []
    assert combiner.submit(2, writer) == 4
    first.join(5)
    assert writer.batches == [[1, 2]]


def test_the_wait_for_an_announced_change_is_bounded() -> None:
    combiner, writer = keyed(fill_wait=0.05), Writer()
    combiner.announce(2)  # never submitted: its decision lost, say
    assert combiner.submit(1, writer) == 2
    assert writer.batches == [[1]]


def submitted_without_waiting(combiner: Combiner[int, int], writer: Writer, change: int) -> int:
    """`change`'s result, from a writer that must not wait for announcements (their wait here
    is a minute: anything near it means it waited)."""
    started = time.monotonic()
    result = combiner.submit(change, writer)
    assert time.monotonic() - started < 30, "the writer waited for an announcement"
    return result


def test_a_change_whose_announcement_was_its_own_goes_out_at_once() -> None:
    combiner, writer = keyed(fill_wait=60.0), Writer()
    combiner.announce(1)
    assert submitted_without_waiting(combiner, writer, 1) == 2
    combiner.announce(3)
    combiner.announce(3)  # announced twice: its first change answers both
    assert submitted_without_waiting(combiner, writer, 3) == 6
    assert writer.batches == [[1], [3]]


def test_an_announcement_lapses() -> None:
    combiner, writer = keyed(fill_wait=60.0, announced_for=0.01), Writer()
    combiner.announce(2)
    time.sleep(0.05)
    assert submitted_without_waiting(combiner, writer, 1) == 2
    assert writer.batches == [[1]]
