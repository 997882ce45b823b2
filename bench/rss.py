"""Row 5: the bot processes' peak resident set size, against bare Bolt's.

Read from /proc/<pid>/status: `VmHWM` (the peak) of each bot at its end, and of bare Bolt
after the ack run; the expiry bot's `VmRSS` is also sampled every 0.5 s (`sample`).
"""

from __future__ import annotations

import math
import threading
import time

from bench.stats import Row, verdict

TARGET_MB = 100.0


def vm_kib(pid: int, field: str = "VmHWM") -> int | None:
    """A /proc/<pid>/status memory field in KiB (VmHWM: peak resident set size)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def sample(pid: int, since: float, stop: threading.Event, into: list[tuple[float, int]]) -> None:
    """(seconds since `since`, VmRSS KiB) into `into` every 0.5 s, until the process ends or
    `stop` is set."""
    for _ in range(100_000):  # bounded; ends with the bot or when told
        kib = vm_kib(pid, "VmRSS")
        if kib is None or stop.is_set():
            return
        into.append((time.monotonic() - since, kib))
        stop.wait(0.5)


def mb(kib: int | None) -> float:
    return math.nan if kib is None else kib * 1024 / 1e6


def mb_text(kib: int | None) -> str:
    value = mb(kib)
    return "n/a" if math.isnan(value) else f"{value:.0f} MB"


#: The number of active grants the memory target is set for.
TARGET_GRANTS = 10_000


def rows(rss_kib: dict[str, int | None], expiry_runs: dict[int, int | None]) -> list[Row]:
    """`rss_kib`: peaks by process ("bot": scenarios 1, 2, 4; "bare"); `expiry_runs`: the
    peak of each scenario-3 bot by its number of active grants. The target is graded on the
    run with TARGET_GRANTS grants; the others are reported."""
    if not rss_kib and not expiry_runs:
        return []
    bare = f"{mb_text(rss_kib.get('bare'))} (bare Bolt)"
    out: list[Row] = [
        (
            "5",
            "Peak RSS (VmHWM) of the bot: scenarios 1, 2, 4 (approvals, the storm)",
            mb_text(rss_kib.get("bot")),
            bare,
            "–",
            "– (reported)",
            "–",
        )
    ]
    for grants, kib in sorted(expiry_runs.items()):
        graded = grants == TARGET_GRANTS
        value = mb(kib)
        out.append(
            (
                "5",
                f"Peak RSS (VmHWM) of the bot: scenario 3, {grants:,} active grants",
                mb_text(kib),
                bare,
                "–",
                f"≤ {TARGET_MB:.0f} MB" if graded else "– (reported)",
                (verdict(value <= TARGET_MB) if not math.isnan(value) else "n/a")
                if graded
                else "–",
            )
        )
    return out
