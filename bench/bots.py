"""How the bench runs the bot: its settings, and what in its log means trouble."""

from __future__ import annotations

#: The bot's documented defaults, stated explicitly: tests.support.bot.BotProcess sets test
#: values (1 s sweep, 3 s reconcile, 2 s lease) that would flatter the expiry numbers.
BOT_ENV = {
    "EKS_ACCESS_SWEEP_INTERVAL": "5",
    "EKS_ACCESS_RECONCILE_INTERVAL": "60",
    "EKS_ACCESS_STEP_LEASE": "30",
}

#: Lines in the bot's log that mean something went wrong (counted and reported).
LOG_MARKERS = (
    "Traceback",
    " ERROR ",
    "scheduled job failed",
    "was missed",
    "maximum number of running instances",
)


def log_problems(text: str) -> list[str]:
    """How often each marker appears in a bot's log, for the notes."""
    return [f"{text.count(m)}× {m.strip()!r}" for m in LOG_MARKERS if text.count(m)]
