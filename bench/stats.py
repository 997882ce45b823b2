"""Percentiles and the small formatting helpers the report uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: One line of the results table: #, measurement, eks-access, baseline, ratio, target, result.
Row = tuple[str, str, str, str, str, str, str]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation): the smallest value with at least q% at or
    below it. NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def ratio(value: float, base: float) -> float:
    if math.isnan(value) or math.isnan(base) or base <= 0:
        return math.nan
    return value / base


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "PASS" if ok else "**FAIL**"


#: The bot's approve latency against the API floor: p50 (the target asked for) and p99.
FLOOR_TARGETS = {50: 1.3, 99: 1.5}


def floor_rows(row: str, what: str, bot: list[float], floor: list[float]) -> list[Row]:
    """The p50 and p99 rows of a bot-against-its-floor measurement (rows 2 and 2b)."""
    out = []
    for q, target in FLOOR_TARGETS.items():
        bot_q, floor_q = percentile(bot, q), percentile(floor, q)
        r = ratio(bot_q, floor_q)
        out.append(
            (
                row,
                f"{what}, p{q}, {len(bot)} / {len(floor)} grants",
                ms(bot_q),
                f"{ms(floor_q)} (API floor)",
                f"{r:.2f}×",
                f"≤ {target}× floor",
                verdict(r <= target) if not math.isnan(r) else "n/a",
            )
        )
    return out
