"""Durations as users type them: 30s, 15m, 2h, 1h30m, 1d. Nothing else is accepted."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.domain.markup import PLAIN, Markup

_DURATION = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?", re.ASCII)
ALLOWED = "a number and a unit, e.g. 30s, 15m, 2h, 1h30m or 1d"
# Far beyond any sane policy; keeps timedelta arithmetic from overflowing on hostile input.
_CEILING = timedelta(days=3650)


class InvalidDuration(ValueError):
    """`text` is what was typed; `problem` says what is wrong with it."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(text, problem)
        self.text, self.problem = text, problem

    def describe(self, m: Markup) -> str:
        return f"{m.code(self.text)} {self.problem}"

    def __str__(self) -> str:
        return self.describe(PLAIN)


def parse_duration(text: str) -> timedelta:
    """Parse a strict duration. Zero and values over ten years are refused here; the policy's
    own bounds are checked by the caller."""
    raw = text.strip()
    m = _DURATION.fullmatch(raw)
    if not raw or not m or not any(m.groups()):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise InvalidDuration(shown, f"is not a duration: use {ALLOWED}.")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total == 0:
        raise InvalidDuration(raw, "is zero: ask for at least a few seconds.")
    if total > _CEILING.total_seconds():
        raise InvalidDuration(raw, "is far too long.")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration for whole seconds: 5400 s -> "1h30m"."""
    total = int(value.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
