"""Row 5: the bot processes' peak resident set size, against bare Bolt's.

Read from /proc/<pid>/status: `VmHWM` (the peak) of each bot at its end, and of bare Bolt
after the ack run; the expiry bot's `VmRSS` is also sampled every 0.5 s (`sample`).
"""

from __future__ import annotations

import math
import threading
import time

from bench.stats import Row, verdict

TARGET_MB = 150.0


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


def rows(rss_kib: dict[str, int | None]) -> list[Row]:
    """`rss_kib`: peaks by process ("bot": scenarios 1, 2, 4; "bot-expiry"; "bare")."""
    if not rss_kib:
        return []
    bot_a, bot_b = mb(rss_kib.get("bot")), mb(rss_kib.get("bot-expiry"))
    peak = max((x for x in (bot_a, bot_b) if not math.isnan(x)), default=math.nan)
    return [
        (
            "5",
            "Peak RSS (VmHWM) of the bot: scenarios 1, 2, 4 / scenario 3",
            f"{mb_text(rss_kib.get('bot'))} / {mb_text(rss_kib.get('bot-expiry'))}",
            f"{mb_text(rss_kib.get('bare'))} (bare Bolt)",
            "–",
            f"≤ {TARGET_MB:.0f} MB",
            verdict(peak <= TARGET_MB) if not math.isnan(peak) else "n/a",
        )
    ]
